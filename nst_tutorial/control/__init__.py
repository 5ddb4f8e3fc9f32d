"""Control over what the style changes (Gatys et al. 2016 and 2017): keep the photo's colours
(`colour`), give each painting its own region (`regions`). Scale, the third control, needs no
code of its own: `Config.style_layer_sources` gives each style layer its painting."""
