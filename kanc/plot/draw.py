"""Figure layout and drawing of the edge plot (matplotlib, Agg canvas).

The layout is computed by hand in inches: every panel cell has the same size, so
the figure grows with the widest layer and the total node count, and the fonts
stay the same size for any model. matplotlib's constrained layout gives the same
picture but took about 20 s of a 40 s plot for a [13, 6, 3] model on a loaded
2-core machine, so it is not used.
"""
import numpy as np

PANEL_WIDTH_IN = 1.35
PANEL_HEIGHT_IN = 1.0
AXES_LEFT_IN = 0.36            # room for y tick labels inside each cell
AXES_RIGHT_IN = 0.06
AXES_TOP_IN = 0.17             # room for the panel title
AXES_BOTTOM_IN = 0.16          # room for x tick labels
X_LABEL_IN = 0.16              # below each layer's last row, for the input names
FIGURE_LEFT_IN = 0.22          # left of the first column, for the node names
FIGURE_RIGHT_IN = 0.1
LAYER_TITLE_IN = 0.3
FIGURE_HEADER_IN = 0.75
LAYER_GAP_IN = 0.12
MIN_WIDTH_IN = 7.0
DPI = 120

TITLE_FONT = 6
TICK_FONT = 5
LABEL_FONT = 6
MAX_LABEL_CHARS = 24

MIN_OPACITY = 0.2
"""Opacity of the least important edge of a layer. The most important one is drawn opaque."""

FLOAT_COLOR = "tab:blue"
FLOAT_WIDTH = 2.4
TABLE_COLOR = "tab:red"
TABLE_WIDTH = 0.7
KNOT_SIZE = 1.8
DATA_RANGE_COLOR = "0.92"


def draw_figure(figure_module, panels, labels, widths, has_data):
    """Build and return the matplotlib Figure of all layers' panels.

    ``panels[l]`` is a list of n_out rows of n_in EdgePanelData for layer l and
    ``labels[k]`` the node names of node layer k.
    """
    n_columns = max(widths[:-1])
    block_heights = [LAYER_TITLE_IN + n_rows * PANEL_HEIGHT_IN + X_LABEL_IN for n_rows in widths[1:]]
    width_in = max(MIN_WIDTH_IN, FIGURE_LEFT_IN + n_columns * PANEL_WIDTH_IN + FIGURE_RIGHT_IN)
    height_in = FIGURE_HEADER_IN + sum(block_heights) + LAYER_GAP_IN * (len(panels) - 1)

    figure = figure_module.Figure(figsize=(width_in, height_in), dpi=DPI)
    _draw_header(figure, widths, has_data)

    top_in = FIGURE_HEADER_IN
    for layer, layer_panels in enumerate(panels):
        _draw_layer(figure, (width_in, height_in), top_in, layer, layer_panels, labels)
        top_in += block_heights[layer] + LAYER_GAP_IN
    return figure


def _draw_header(figure, widths, has_data):
    """Write the figure title and one legend for all panels."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    shape = ", ".join(str(w) for w in widths)
    figure.suptitle(f"KAN [{shape}]: float edge functions and their int16 tables", fontsize=10, y=0.995,
                    va="top")
    handles = [
        Line2D([], [], color=FLOAT_COLOR, lw=FLOAT_WIDTH, alpha=0.6, label="float edge function phi"),
        Line2D([], [], color=TABLE_COLOR, lw=TABLE_WIDTH, marker="o", ms=2.5, mew=0,
               label="int16 table samples x table_scale[j], linear between segment ends"),
    ]
    if has_data:
        handles.append(Patch(color=DATA_RANGE_COLOR, label="calibration data range"))
        note = ("panel title: std = standard deviation of phi over the data (importance), "
                "err = max |table - phi|, both in node-j units. Line opacity grows with importance.")
    else:
        note = ("panel title: err = max |table - phi| in node-j units. No calibration data was given, "
                "so importance and data range are not shown.")
    height_in = figure.get_figheight()
    figure.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1.0 - 0.25 / height_in),
                  ncol=len(handles), fontsize=7, frameon=False, title=note, title_fontsize=7,
                  handlelength=3)


def _draw_layer(figure, size_in, top_in, layer, layer_panels, labels):
    """Draw the title and the (n_out x n_in) panel grid of one layer, starting ``top_in`` below the figure top."""
    width_in, height_in = size_in
    n_out, n_in = len(layer_panels), len(layer_panels[0])
    is_last = layer + 2 == len(labels)
    kind = "outputs" if is_last else "hidden nodes"
    figure.text(FIGURE_LEFT_IN / width_in, 1.0 - (top_in + 0.05) / height_in,
                f"Layer {layer}: {n_in} inputs -> {n_out} {kind}. Row j = {kind[:-1]} j, column i = "
                f"input i. y in real units of node j, x in units of input i.",
                fontsize=8, fontweight="bold", va="top", ha="left")

    opacity = _opacities(layer_panels)
    grid_top_in = top_in + LAYER_TITLE_IN
    for j in range(n_out):
        for i in range(n_in):
            left = FIGURE_LEFT_IN + i * PANEL_WIDTH_IN + AXES_LEFT_IN
            top = grid_top_in + j * PANEL_HEIGHT_IN + AXES_TOP_IN
            axes_width = PANEL_WIDTH_IN - AXES_LEFT_IN - AXES_RIGHT_IN
            axes_height = PANEL_HEIGHT_IN - AXES_TOP_IN - AXES_BOTTOM_IN
            axes = figure.add_axes([left / width_in, 1.0 - (top + axes_height) / height_in,
                                    axes_width / width_in, axes_height / height_in])
            _draw_panel(axes, layer_panels[j][i], opacity[j, i])
            if j == n_out - 1:
                axes.set_xlabel(_shorten(labels[layer][i]), fontsize=LABEL_FONT, labelpad=1)
            if i == 0:
                axes.set_ylabel(_shorten(labels[layer + 1][j]), fontsize=LABEL_FONT, labelpad=1)


def _draw_panel(axes, panel, opacity):
    """Draw one edge: data range, float curve, table polyline with its samples, and a title with its numbers."""
    import matplotlib.ticker as ticker

    if panel.data_range is not None:
        axes.axvspan(*panel.data_range, color=DATA_RANGE_COLOR, lw=0, zorder=0)
    # The float curve is drawn wide underneath so that the thin table line on top
    # leaves it visible where the two agree.
    axes.plot(panel.t, panel.phi, color=FLOAT_COLOR, lw=FLOAT_WIDTH, alpha=opacity * 0.6,
              solid_capstyle="butt", zorder=2)
    axes.plot(panel.table_t, panel.table_value, color=TABLE_COLOR, lw=TABLE_WIDTH, alpha=opacity, zorder=3)
    axes.plot(panel.knot_t, panel.knot_value, ls="none", marker="o", ms=KNOT_SIZE, mew=0,
              color=TABLE_COLOR, alpha=opacity, zorder=3)
    axes.set_xlim(panel.t[0], panel.t[-1])

    compact = ticker.FuncFormatter(lambda value, _: format_tick(value))
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_locator(ticker.MaxNLocator(3))
        axis.set_major_formatter(compact)
    axes.tick_params(labelsize=TICK_FONT, length=2, pad=1, width=0.5)
    for spine in axes.spines.values():
        spine.set_linewidth(0.5)

    parts = []
    if panel.importance is not None:
        parts.append(f"std {panel.importance:.2g}")
    parts.append(f"err {panel.table_error:.1g}")
    axes.set_title("  ".join(parts), fontsize=TITLE_FONT, pad=2)


def _opacities(layer_panels):
    """Return (n_out, n_in) line opacities in [MIN_OPACITY, 1], proportional to importance within the layer."""
    scores = np.array([[np.nan if p.importance is None else p.importance for p in row]
                       for row in layer_panels])
    if np.all(np.isnan(scores)) or np.nanmax(scores) <= 0:
        return np.ones(scores.shape)
    opacity = MIN_OPACITY + (1.0 - MIN_OPACITY) * scores / np.nanmax(scores)
    return np.clip(opacity, MIN_OPACITY, 1.0)       # float rounding can give 1 + 2^-52


def format_tick(value):
    """Format a tick value in at most about 6 characters: 0.25, -1.5, 1250, 2e+05, 5e-04."""
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if 1e-3 <= magnitude < 1e5:
        return f"{value:.4g}" if magnitude >= 1000 else f"{value:.3g}"
    return f"{value:.0e}"


def _shorten(label):
    if len(label) <= MAX_LABEL_CHARS:
        return label
    return label[:MAX_LABEL_CHARS - 3] + "..."
