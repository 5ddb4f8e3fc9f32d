"""A class in the browser: `nst-tutorial serve` gives every student the Evaluator as a page
(Voilà, one kernel each) and solves their pictures on a shared Dask worker pool, in turn.

- `queue`: the fair queue, one visitor at a time in turn;
- `requests`: what a page asks for and what it is told back (plain data, no torch);
- `paint`: what a worker runs for one request: `stylize`, the one solve path;
- `room`: the server's side: the queue, the jobs on the pool, each visitor's pictures;
- `web`: the HTTP routes the pages and the teacher's view use;
- `uploads`: a phone's photo turned upright and brought down to size (no torch);
- `visitor`: the page each student sees (widgets only: no torch, no network).
"""
