"""Container resources for the downward API: quantities, divisors, node allocatable.

k8s.io/apimachinery/pkg/api/resource (Quantity: `500m`, `1.5`, `128Mi`, `1e3`),
pkg/api/v1/resource ExtractContainerResourceValue (the value is divided by the divisor
and rounded UP: convertResourceCPUToString / convertResourceMemoryToString use
math.Ceil), and pkg/kubelet/kubelet_resources.go defaultPodLimitsForDownwardAPI: a
limit the container does not set is the node's allocatable amount.  This machine is
the node: allocatable = capacity (memlab reserves nothing), cpu = online CPUs, memory =
physical RAM (sysconf, no /proc read here).
"""

from __future__ import annotations

import math
import os
import re
from fractions import Fraction

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15,
            "E": 18}
_QUANTITY_RE = re.compile(r"^([+-]?[0-9]+(?:\.[0-9]*)?|[+-]?\.[0-9]+)"
                          r"(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")


class QuantityError(ValueError):
    pass


def parse_quantity(value) -> tuple[Fraction, str]:
    """resource.ParseQuantity: (exact value, format) with format "BinarySI" or
    "DecimalSI"/"DecimalExponent".  Raises QuantityError like ErrFormatWrong."""
    if isinstance(value, bool):
        raise QuantityError("quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    if isinstance(value, (int, float)):
        value = repr(value) if isinstance(value, float) else str(value)
    m = _QUANTITY_RE.match(str(value).strip())
    if not m:
        raise QuantityError("quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    num = Fraction(m.group(1))
    suffix = m.group(2) or ""
    if suffix in _BINARY:
        return num * 1024 ** _BINARY[suffix], "BinarySI"
    if suffix[:1] in ("e", "E") and len(suffix) > 1:  # an exponent; a lone E is exa
        return num * Fraction(10) ** int(suffix[1:]), "DecimalExponent"
    return num * Fraction(10) ** _DECIMAL[suffix], "DecimalSI"


def canonical_divisor(value) -> str | None:
    """Quantity.String() for the values a divisor may take (1m, 1, 1k..1E, 1Ki..1Ei);
    None for anything else (which validation refuses)."""
    try:
        q, fmt = parse_quantity(value)
    except QuantityError:
        return None
    if q == Fraction(1, 1000):
        return "1m"
    if q == 1:
        return "1"
    if fmt == "BinarySI":
        for suf, exp in _BINARY.items():
            if q == 1024 ** exp:
                return "1" + suf
        return None
    for suf, exp in _DECIMAL.items():
        if exp > 0 and q == Fraction(10) ** exp:
            return "1" + suf
    return None


def milli_value(q: Fraction) -> int:
    return math.ceil(q * 1000)  # Quantity.MilliValue rounds up


def value(q: Fraction) -> int:
    return math.ceil(q)  # Quantity.Value rounds up


def node_allocatable() -> dict[str, Fraction]:
    """This node's allocatable cpu (cores) and memory (bytes)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except OSError:  # pragma: no cover - Linux has it
        cpus = os.cpu_count() or 1
    mem = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {"cpu": Fraction(cpus), "memory": Fraction(mem)}


def _amount(container: dict, kind: str, res: str) -> Fraction | None:
    raw = ((container.get("resources") or {}).get(kind) or {}).get(res)
    if raw is None:
        return None
    return parse_quantity(raw)[0]


def effective(container: dict, kind: str, res: str) -> Fraction:
    """The container's limit or request of RES as the downward API sees it.
    limits: defaultPodLimitsForDownwardAPI fills a missing limit with node allocatable.
    requests: the API server's defaulting copies a limit the container sets into a
    missing request (SetDefaults_Pod); with neither, the request is 0."""
    limit = _amount(container, "limits", res)
    if kind == "limits":
        return limit if limit is not None else node_allocatable()[res]
    req = _amount(container, "requests", res)
    if req is not None:
        return req
    return limit if limit is not None else Fraction(0)


def extract_container_resource_value(ref: dict, container: dict) -> str:
    """pkg/api/v1/resource ExtractContainerResourceValue for cpu and memory."""
    resource = ref.get("resource", "")
    divisor_raw = ref.get("divisor")
    divisor = parse_quantity(divisor_raw)[0] if divisor_raw not in (None, "", 0) else \
        Fraction(1)
    kind, _, res = resource.partition(".")
    amount = effective(container, kind, res)
    if res == "cpu":  # convertResourceCPUToString
        return str(math.ceil(Fraction(milli_value(amount), milli_value(divisor))))
    # convertResourceMemoryToString
    return str(math.ceil(Fraction(value(amount), value(divisor))))
