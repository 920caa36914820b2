"""Requantizer parameters (p, M, r, z) from the real-valued map between two integer formats.

A requantizer (docs/fixed_point_spec.md, sections 2.2 and 2.6) turns an integer
``a`` that stands for the real value ``a * value_scale + value_offset`` into a target
coordinate ``c = (a * value_scale + value_offset - target_origin) / target_step``. The target is
either a table coordinate u (origin ``lo_i``, step ``(hi_i - lo_i) / (S_i * 2^F)``)
or the model output y_q (origin ``output_offset``, step ``output_scale``).

In the integer path this becomes

    t = sat(rshift_round(a, p), int16)      one t step is value_scale * 2^p real units
    c ~ t * k + z_real                      k = value_scale * 2^p / target_step
                                            z_real = (value_offset - target_origin) / target_step
    M * 2^-r ~ k,  z = round(z_real)

Every choice below is made on float64 numbers, and the error it causes in the
target coordinate is returned so that error_bounds can add it up.
"""
import dataclasses
import math

from kanc.errors import KancError
from kanc.quantize.qmodel import INT16_MAX, INT32_MAX, OFFSET_LIMIT

SHIFT_MAX = 31
PRE_SHIFT_MAX = 31


class QuantizationError(KancError):
    """The float model, the calibration data or a quantizer option cannot be used."""


class RequantizerRangeError(QuantizationError):
    """A requantizer cannot be built or breaks the overflow proof of spec section 2.2."""


@dataclasses.dataclass
class RequantizerDesign:
    """One requantizer plus the real-valued facts behind it.

    ``multiplier_real`` is k (target steps per t step), ``offset_real`` z_real,
    ``t_max`` the largest |t| for a value inside the domain, and
    ``coordinate_error`` the largest distance, in target steps, between the
    integer result before saturation and the exact coordinate of the value that
    ``a`` stands for (inputs inside the domain). ``degenerate`` is True when
    the domain is narrower than one t step, so the requantizer outputs the
    constant coordinate of the domain centre (M = 0).
    """

    pre_shift: int
    multiplier: int
    shift: int
    offset: int
    multiplier_real: float
    offset_real: float
    t_max: float
    coordinate_error: float
    degenerate: bool

    def as_tuple(self):
        return (self.pre_shift, self.multiplier, self.shift, self.offset)


def multiplier_and_shift(k):
    """Return (M, r) with M * 2^-r the closest such value to ``k`` > 0, or None when k >= 2^15.

    M lies in [2^14, 2^15) unless k < 2^-17, where r stops at 31 and M keeps fewer bits
    (M can then be 0 when k < 2^-32).
    """
    if not (math.isfinite(k) and k > 0):
        raise RequantizerRangeError(f"requantizer multiplier {k!r} must be finite and positive")
    mantissa, exponent = math.frexp(k)          # k = mantissa * 2^exponent, mantissa in [0.5, 1)
    shift = min(15 - exponent, SHIFT_MAX)       # k * 2^r = mantissa * 2^15 in [2^14, 2^15)
    if shift < 0:
        return None

    # Round half up to the nearest multiplier; rounding up can reach 2^15, one step too far.
    multiplier = math.floor(k * 2.0 ** shift + 0.5)
    if multiplier > INT16_MAX:
        if shift == 0:
            return None
        shift -= 1
        multiplier = math.floor(k * 2.0 ** shift + 0.5)
    return multiplier, shift


def choose_pre_shift(value_scale, fit_lo, fit_hi):
    """Return the smallest p in [0, 31] such that every real value in [fit_lo, fit_hi] fits in an int16 t.

    ``value_scale`` is the real value of one step of ``a``. Rounding in the pre-shift
    moves |t| by at most 0.5, which the test below includes.
    """
    reach = max(abs(fit_lo), abs(fit_hi)) / value_scale
    for pre_shift in range(PRE_SHIFT_MAX + 1):
        if reach / 2.0 ** pre_shift + 0.5 <= INT16_MAX:
            return pre_shift
    raise RequantizerRangeError(
        f"values up to {max(abs(fit_lo), abs(fit_hi)):.6g} are more than 32767 * 2^31 steps of "
        f"{value_scale:.6g}; the node's table scale is too small for its range")


def design_requantizer(value_scale, domain_lo, domain_hi, target_origin, target_step,
                       fit_lo=None, fit_hi=None, pre_shift=None, input_rounding=None, value_offset=0.0):
    """Build the requantizer that maps ``a`` (unit ``value_scale``) to the target coordinate.

    Parameters
    ----------
    value_scale : float
        Real value of one step of ``a`` (input_scale for layer 0, table_scale / 2^F
        for an accumulator).
    domain_lo, domain_hi : float
        Real range in which the error bound must hold.
    target_origin, target_step : float
        The target coordinate is (real - target_origin) / target_step.
    fit_lo, fit_hi : float, optional
        Real range that must not saturate in step 1 (the pre-shift); the domain by default.
    pre_shift : int, optional
        Force p (0 for layer 0, whose inputs are already int16).
    input_rounding : float, optional
        Rounding error of t in t steps before the multiply. By default 0.5 when p > 0
        (rshift_round) and 0 when p = 0. Layer 0 passes 0.5 for the float -> x_q rounding.
    value_offset : float
        Real value that ``a = 0`` stands for: the node's ``acc_offset`` for an
        accumulator. The pre-shift only has to reach the domain's distance from it,
        and it moves into z.
    """
    fit_lo = domain_lo if fit_lo is None else fit_lo
    fit_hi = domain_hi if fit_hi is None else fit_hi

    # Work relative to value_offset: from here on every real value is measured from
    # the real value of a = 0, so that a * value_scale is the whole variable part.
    domain_lo, domain_hi = domain_lo - value_offset, domain_hi - value_offset
    fit_lo, fit_hi = fit_lo - value_offset, fit_hi - value_offset
    target_origin = target_origin - value_offset
    if pre_shift is None:
        pre_shift = choose_pre_shift(value_scale, fit_lo, fit_hi)
    if input_rounding is None:
        input_rounding = 0.5 if pre_shift > 0 else 0.0

    t_step = value_scale * 2.0 ** pre_shift
    k = t_step / target_step
    z_real = -target_origin / target_step
    t_max = max(abs(domain_lo), abs(domain_hi)) / t_step + input_rounding

    found = multiplier_and_shift(k)
    if found is not None:
        multiplier, shift = found
        offset = math.floor(z_real + 0.5)
        if abs(offset) <= OFFSET_LIMIT and multiplier > 0:
            # Error terms, in target steps: rounding of t, the multiplier's
            # approximation of k over |t| <= t_max, rshift_round in step 3 (none when
            # r = 0) and the rounding of z.
            error = (input_rounding * k
                     + t_max * abs(k - multiplier * 2.0 ** -shift)
                     + (0.5 if shift > 0 else 0.0)
                     + abs(offset - z_real))
            return RequantizerDesign(pre_shift, multiplier, shift, offset, k, z_real, t_max, error, False)

    # Degenerate: the domain is so narrow against one t step (or the multiplier so
    # small) that no (M, r) resolves it. Output the constant coordinate of the domain
    # centre; the error is the distance from it to the farther domain end.
    centre = (0.5 * (domain_lo + domain_hi) - target_origin) / target_step
    offset = math.floor(centre + 0.5)
    if abs(offset) > OFFSET_LIMIT:
        raise RequantizerRangeError(
            f"constant coordinate {centre:.6g} of a degenerate requantizer exceeds 2^30; "
            "the output or domain offset is too large for its scale")
    ends = ((domain_lo - target_origin) / target_step, (domain_hi - target_origin) / target_step)
    error = max(abs(offset - ends[0]), abs(offset - ends[1]))
    return RequantizerDesign(pre_shift, 0, 0, offset, k, z_real, t_max, error, True)


def prove_requantizer_ranges(design):
    """Check, with integer bounds, that no step of spec section 2.2 overflows int32 for any int16 t.

    Returns a dict of the worst-case magnitudes, for the model metadata.
    """
    p, multiplier, shift, offset = design.as_tuple()
    problems = []
    if not 0 <= p <= PRE_SHIFT_MAX:
        problems.append(f"pre_shift {p} outside [0, 31]")
    if not 0 <= multiplier <= INT16_MAX:
        problems.append(f"multiplier {multiplier} outside [0, 32767]")
    if not 0 <= shift <= SHIFT_MAX:
        problems.append(f"shift {shift} outside [0, 31]")
    if abs(offset) > OFFSET_LIMIT:
        problems.append(f"offset {offset} outside [-2^30, 2^30]")

    product_max = (1 << 15) * multiplier                      # |t| <= 2^15 after step 1
    shifted_max = (product_max >> shift) + 1 if shift else product_max
    sum_max = shifted_max + abs(offset)
    if product_max >= 1 << 30:
        problems.append(f"|t * M| can reach {product_max} >= 2^30")
    if sum_max > INT32_MAX:
        problems.append(f"|m + z| can reach {sum_max} > 2^31 - 1")
    if problems:
        raise RequantizerRangeError("requantizer " + str(design.as_tuple()) + ": " + "; ".join(problems))
    return {"max_abs_product": product_max, "max_abs_sum": sum_max}
