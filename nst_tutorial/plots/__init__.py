"""Pictures of the method: every helper takes `ax=None` (or `axes=None`) and returns what it drew."""

from .figures import as_array, figure_of, new_axes, new_figure
from .grams import gram_heatmaps, update_gram_heatmaps
from .images import show_difference, show_feature_maps, show_images, show_stages
from .losses import mark_stage, plot_losses, plot_result_losses, plot_two_axes
from .model import draw_augmented_model, show_event_gate
from .video import flow_colours, plot_frame_change, show_clip, show_flow, show_mask

__all__ = ["as_array", "draw_augmented_model", "figure_of", "flow_colours", "gram_heatmaps", "mark_stage", "new_axes",
           "new_figure", "plot_frame_change", "plot_losses", "plot_result_losses", "plot_two_axes", "show_clip",
           "show_difference", "show_event_gate", "show_feature_maps", "show_flow", "show_images", "show_mask",
           "show_stages", "update_gram_heatmaps"]
