"""Identity checks: GB 11643 citizen ID numbers, GB 32100 unified social credit codes, GB/T 3304 ethnicities."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]

# GB/T 3304-1991 中国各民族名称的罗马字母拼写法和代码
ETHNICITIES = {
    "01": "汉族", "02": "蒙古族", "03": "回族", "04": "藏族", "05": "维吾尔族", "06": "苗族", "07": "彝族",
    "08": "壮族", "09": "布依族", "10": "朝鲜族", "11": "满族", "12": "侗族", "13": "瑶族", "14": "白族",
    "15": "土家族", "16": "哈尼族", "17": "哈萨克族", "18": "傣族", "19": "黎族", "20": "傈僳族", "21": "佤族",
    "22": "畲族", "23": "高山族", "24": "拉祜族", "25": "水族", "26": "东乡族", "27": "纳西族", "28": "景颇族",
    "29": "柯尔克孜族", "30": "土族", "31": "达斡尔族", "32": "仫佬族", "33": "羌族", "34": "布朗族",
    "35": "撒拉族", "36": "毛南族", "37": "仡佬族", "38": "锡伯族", "39": "阿昌族", "40": "普米族",
    "41": "塔吉克族", "42": "怒族", "43": "乌孜别克族", "44": "俄罗斯族", "45": "鄂温克族", "46": "德昂族",
    "47": "保安族", "48": "裕固族", "49": "京族", "50": "塔塔尔族", "51": "独龙族", "52": "鄂伦春族",
    "53": "赫哲族", "54": "门巴族", "55": "珞巴族", "56": "基诺族", "97": "其他", "98": "外国血统中国籍人士",
}
ETHNICITY_BY_NAME = {name: code for code, name in ETHNICITIES.items()}


class IdentityError(ValueError):
    """A refused identifier, with a reason fit to show to the person entering it."""


@dataclass(frozen=True)
class CitizenId:
    number: str
    birth_date: dt.date
    gender: str  # "male" | "female"
    region: str


def id_check_char(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def parse_citizen_id(value: str, *, today: dt.date | None = None) -> CitizenId:
    """Validate an 18-digit resident identity card number (GB 11643) and derive birth date and gender."""
    number = (value or "").strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise IdentityError("an ID number has 17 digits and a check digit (0–9 or X)")
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise IdentityError("the birth date inside the ID number is not a real date") from exc
    if birth > (today or dt.date.today()):
        raise IdentityError("the birth date inside the ID number is in the future")
    if birth.year < 1890:
        raise IdentityError("the birth date inside the ID number is implausible")
    if id_check_char(number[:17]) != number[17]:
        raise IdentityError("the check digit of the ID number is wrong")
    return CitizenId(number=number, birth_date=birth, gender="male" if int(number[16]) % 2 else "female",
                     region=number[:6])


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    """Validate a unified social credit code (统一社会信用代码, GB 32100) by its check character."""
    code = (value or "").strip().upper()
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        raise IdentityError("a unified social credit code has 18 characters (digits and capitals, no I O Z S V)")
    if uscc_check_char(code[:17]) != code[17]:
        raise IdentityError("the check character of the unified social credit code is wrong")
    return code


def ethnicity_code(value: str) -> str:
    """Accept a GB/T 3304 code ("01") or name ("汉族"/"汉"); return the code."""
    value = (value or "").strip()
    if value in ETHNICITIES:
        return value
    if value.isdigit() and value.zfill(2) in ETHNICITIES:
        return value.zfill(2)
    if value in ETHNICITY_BY_NAME:
        return ETHNICITY_BY_NAME[value]
    if value + "族" in ETHNICITY_BY_NAME:
        return ETHNICITY_BY_NAME[value + "族"]
    raise IdentityError(f"unknown ethnicity {value!r} (GB/T 3304 code or name)")


def valid_mobile(value: str) -> bool:
    return bool(re.fullmatch(r"1[3-9]\d{9}", value or ""))
