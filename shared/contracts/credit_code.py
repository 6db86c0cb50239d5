"""Unified social credit code (统一社会信用代码) validation per GB 32100-2015.

The 18 characters: registration authority (登记管理部门), institution type (机构类别) allowed for that
authority, the 6-digit administrative division of the registering office (GB/T 2260), the 9-character
organisation code, and the check character. A code of eighteen zeros has a right check character but
names no authority, so every part is checked, not only the sum.
"""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# Registration authority -> (name, institution types it registers). GB 32100-2015 lists 1, 5, 9 and Y with
# their types; the authorities assigned since by the national code administration (2-4, 6-8, A, N) are
# accepted with any digit as type, since refusing a genuine enterprise's code is worse than a loose check.
_ANY_TYPE = "123456789"
AUTHORITIES: dict[str, tuple[str, str]] = {
    "1": ("机构编制", "1239"),  # 机关, 事业单位, 中央编办直接管理机构编制的群众团体, 其他
    "2": ("外交", _ANY_TYPE),
    "3": ("司法行政", _ANY_TYPE),
    "4": ("文化", _ANY_TYPE),
    "5": ("民政", "1239"),  # 社会团体, 民办非企业单位, 基金会, 其他
    "6": ("旅游", _ANY_TYPE),
    "7": ("宗教", _ANY_TYPE),
    "8": ("工会", _ANY_TYPE),
    "9": ("工商", "123"),  # 企业, 个体工商户, 农民专业合作社
    "A": ("中央军委改革和编制办公室", _ANY_TYPE),
    "N": ("农业", _ANY_TYPE),
    "Y": ("其他", "1"),
}


# The shape of a code as JSON Schema publishes it (authority and the types it registers, a 6-digit division,
# then 10 characters of the set); the check character needs the sum, which only validate_credit_code computes.
CREDIT_CODE_PATTERN = r"^(?:[15][1239]|9[123]|Y1|[2-4678AN][1-9])[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"


class InvalidCreditCode(ValueError):
    """The text is not a valid 18-character unified social credit code."""


def check_character(first17: str) -> str:
    """Return the GB 32100-2015 check character for the first 17 characters."""
    total = sum(CHARSET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def validate_credit_code(code: str) -> str:
    """Return the normalised code, or raise InvalidCreditCode with the reason."""
    normalised = code.strip().upper()
    if len(normalised) != 18:
        raise InvalidCreditCode(
            f"须为 18 位，实为 {len(normalised)} 位 / must be 18 characters, got {len(normalised)}"
        )
    bad = sorted({ch for ch in normalised if ch not in CHARSET})
    if bad:
        listed = "".join(bad)
        raise InvalidCreditCode(
            f"含 GB 32100-2015 不允许的字符：{listed} / contains characters not allowed by GB 32100-2015: {listed}"
        )
    authority, kind, division = normalised[0], normalised[1], normalised[2:8]
    if authority not in AUTHORITIES:
        raise InvalidCreditCode(
            f"登记管理部门代码 {authority!r} 不存在 / 登记管理部门代码 {authority!r} is no registration authority"
        )
    name, kinds = AUTHORITIES[authority]
    if kind not in kinds:
        raise InvalidCreditCode(
            f"{name}（{authority}）不登记机构类别代码 {kind!r} / "
            f"机构类别代码 {kind!r} is not a type {name} ({authority}) registers"
        )
    if not division.isdigit():
        raise InvalidCreditCode(
            f"行政区划码 {division!r} 须为 6 位数字 / 行政区划码 {division!r} must be 6 digits"
        )
    expected = check_character(normalised[:17])
    if normalised[17] != expected:
        raise InvalidCreditCode(
            f"校验码为 {normalised[17]!r}，应为 {expected!r} / "
            f"check character is {normalised[17]!r}, expected {expected!r}"
        )
    return normalised
