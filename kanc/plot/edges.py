"""One PNG of every edge function of a KAN next to the int16 table that approximates it.

For each layer the figure has a grid with one panel per edge (j, i): row j is the
node, column i the layer input. A panel shows

- the float edge function phi_ji over the plotted range (real units of node j),
- the table's piecewise-linear approximation: the samples T_ji[s] * table_scale[j]
  at the segment ends lo_i + s * (hi_i - lo_i) / S_i, joined by straight lines
  (docs/fixed_point_spec.md sections 2.2 to 2.4),
- the range the calibration data covers on input i, shaded,
- the edge's importance (standard deviation of phi_ji over the data, see
  kanc.model.importance) and the table's measured max error in the title. The
  line opacity grows with the importance, as in pykan's plot.

matplotlib is an optional extra of kanc (``pip install "kanc[plot]"``), so it
is imported only when a plot is drawn.
"""
import numpy as np

from kanc.errors import KancError
from kanc.io.atomic import atomic_path
from kanc.model.importance import edge_importance
from kanc.model.protocol import check_float_model
from kanc.plot.draw import draw_figure
from kanc.plot.edge_data import EdgePanelData, check_matching_widths, layer_panel_data, node_labels
from kanc.quantize.report import measure_table_errors

MAX_EDGES = 1024
"""Largest edge count plotted by default. A larger grid is unreadable and takes minutes to draw."""

def plot_edges(float_model, path, qmodel=None, x=None, input_names=None, points=256, max_edges=MAX_EDGES):
    """Draw every edge of ``float_model`` with its int16 table and write one PNG to ``path`` atomically.

    Parameters
    ----------
    float_model : object implementing kanc.model.protocol
    path : str or path-like
        PNG file to write. It is written to a temporary file first and renamed, so
        a failed plot leaves no partial file and keeps an existing one unchanged.
    qmodel : QuantizedModel, optional
        Tables to overlay. Without it, ``x`` is required and the model is quantized
        with ``kanc.quantize.quantizer.quantize(float_model, x)`` (default settings).
    x : array (N, n_inputs), optional
        Calibration inputs in the user's units, N >= 2. They give the shaded data
        range and the edge importance. Without ``x`` neither is drawn.
    input_names : list of str, optional
        Names of the model inputs. Default: ``float_model.feature_names`` or
        ``qmodel.metadata["feature_names"]`` when present, else x0, x1, ...
    points : int
        Points per input at which the float edge functions are evaluated.
    max_edges : int
        Raise KancError for models with more edges than this.

    Raises KancError when matplotlib is missing, when neither ``qmodel`` nor ``x``
    is given, or when ``qmodel`` does not match ``float_model``. Raises DataError
    for an unusable ``x``.
    """
    check_float_model(float_model)
    widths = [int(w) for w in float_model.widths]
    n_edges = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    if n_edges > max_edges:
        raise KancError(f"model {widths} has {n_edges} edges, more than max_edges={max_edges} for one "
                        "PNG; prune the model first (kanc prune) or call kanc.plot.edges.plot_edges with a larger max_edges")
    if qmodel is None and x is None:
        raise KancError("plot_edges needs a quantized model (qmodel) or calibration data (x) to draw the "
                        "int16 tables; pass one of them")
    if not (isinstance(points, (int, np.integer)) and points >= 2):
        raise KancError(f"points={points!r} must be an integer >= 2 (float curve samples per input)")
    figure_module, agg_canvas = _import_matplotlib()

    # Step 1: importance and data ranges from the calibration data (checks x).
    importance, activations = None, None
    if x is not None:
        importance = edge_importance(float_model, x)
        activations = float_model.layer_inputs(np.asarray(x, dtype=np.float64))

    # Step 2: the tables, quantized here when none were given.
    if qmodel is None:
        from kanc.quantize.quantizer import quantize

        qmodel = quantize(float_model, x)
    check_matching_widths(float_model, qmodel)

    # Step 3: per-panel curves and table errors, in real units of each node.
    labels = node_labels(float_model, qmodel, input_names)
    table_errors = measure_table_errors(qmodel, float_model)
    panels = [layer_panel_data(float_model, qmodel, layer, points,
                               inputs=None if activations is None else activations[layer],
                               importance=None if importance is None else importance[layer],
                               table_error=table_errors[layer])
              for layer in range(len(widths) - 1)]

    # Step 4: draw and write.
    figure = draw_figure(figure_module, panels, labels, widths, has_data=x is not None)
    agg_canvas(figure)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")


def _import_matplotlib():
    """Import and return (matplotlib.figure, FigureCanvasAgg), or raise KancError naming the install command.

    The figure is drawn on an Agg canvas of its own, so pyplot's global backend and
    figure list are left alone.
    """
    try:
        import matplotlib.figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as exc:
        raise KancError(f"kanc plot needs matplotlib, which cannot be imported ({exc}); install it with "
                        "'pip install \"kanc[plot]\"' (or 'pip install \"matplotlib>=3.6\"')") from None
    return matplotlib.figure, FigureCanvasAgg


__all__ = ["plot_edges", "EdgePanelData", "MAX_EDGES"]
