"""GB 11643 ID numbers, GB 32100 unified social credit codes, GB/T 3304 ethnicities.

Every "valid" number below was checked by hand with the weights, so the tests do not merely repeat the code.
"""

import datetime as dt

import pytest

from gridgov.residents.validators import (
    IdentityError,
    ethnicity_code,
    parse_citizen_id,
    valid_mobile,
    validate_uscc,
)

TODAY = dt.date(2026, 3, 1)

# GB 11643: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, check = "10X98765432"[sum % 11]
#
# 11010519491231002X  (the standard's own example)
#   1·7 + 1·9 + 0·10 + 1·5 + 0·8 + 5·4 + 1·2 + 9·1 + 4·6 + 9·3 + 1·7 + 2·9 + 3·10 + 1·5 + 0·8 + 0·4 + 2·2
#   = 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 % 11 = 2 → "X"; 17th digit 2 (even) → female
# 320508198001010032
#   3·7 + 2·9 + 0·10 + 5·5 + 0·8 + 8·4 + 1·2 + 9·1 + 8·6 + 0·3 + 0·7 + 1·9 + 0·10 + 1·5 + 0·8 + 0·4 + 3·2
#   = 21+18+0+25+0+32+2+9+48+0+0+9+0+5+0+0+6 = 175; 175 % 11 = 10 → "2"; 17th digit 3 (odd) → male
# 440524188001010014 (a textbook example, born 1880: right check digit, implausible date)
#   4·7 + 4·9 + 0 + 5·5 + 2·8 + 4·4 + 1·2 + 8·1 + 8·6 + 0 + 0 + 1·9 + 0 + 1·5 + 0 + 0 + 1·2
#   = 28+36+25+16+16+2+8+48+9+5+2 = 195; 195 % 11 = 8 → "4"


def test_valid_id_with_x_check_digit_female():
    parsed = parse_citizen_id("11010519491231002X", today=TODAY)
    assert parsed.number == "11010519491231002X"
    assert parsed.birth_date == dt.date(1949, 12, 31)
    assert parsed.gender == "female"
    assert parsed.region == "110105"


def test_lowercase_x_and_spaces_accepted():
    assert parse_citizen_id(" 11010519491231002x ", today=TODAY).number == "11010519491231002X"


def test_valid_id_male_derived_from_17th_digit():
    parsed = parse_citizen_id("320508198001010032", today=TODAY)
    assert (parsed.birth_date, parsed.gender, parsed.region) == (dt.date(1980, 1, 1), "male", "320508")


@pytest.mark.parametrize("number", ["320508198001010033", "320508198001010031", "110105194912310021",
                                    "32050819800101003X"])
def test_wrong_check_digit_refused(number):
    with pytest.raises(IdentityError, match="check digit"):
        parse_citizen_id(number, today=TODAY)


@pytest.mark.parametrize("number", ["", "12345", "3205081980010100321", "32050819800101003Y", "A20508198001010032"])
def test_bad_shape_refused(number):
    with pytest.raises(IdentityError, match="17 digits"):
        parse_citizen_id(number, today=TODAY)


@pytest.mark.parametrize("first17", ["32050819800230001", "32050819801301001", "32050819810229001",
                                     "32050819800100001"])
def test_impossible_birth_date_refused(first17):
    # 30 February, month 13, 29 February 1981 (not a leap year), day 0 — whatever the check digit
    for check in "0123456789X":
        with pytest.raises(IdentityError, match="not a real date"):
            parse_citizen_id(first17 + check, today=TODAY)


def test_leap_day_accepted():
    # 32050820000229002: 3·7+2·9+0+5·5+0+8·4+2·2+0+0+0+0+2·9+2·10+9·5+0+0+2·2
    #   = 21+18+25+32+4+18+20+45+4 = 187; 187 % 11 = 0 → "1"
    assert parse_citizen_id("320508200002290021", today=TODAY).birth_date == dt.date(2000, 2, 29)


def test_future_birth_date_refused():
    # born 2026-03-02, one day after TODAY; check digit computed by the same weights as above:
    # 3·7+2·9+0+5·5+0+8·4+2·2+0·1+2·6+6·3+0+3·9+0+2·5+0+0+1·2 = 21+18+25+32+4+12+18+27+10+2 = 169; 169%11=4 → "8"
    with pytest.raises(IdentityError, match="future"):
        parse_citizen_id("320508202603020018", today=TODAY)
    # the same number is fine once the day has come
    assert parse_citizen_id("320508202603020018", today=dt.date(2026, 3, 2)).gender == "male"


def test_implausibly_old_birth_date_refused():
    with pytest.raises(IdentityError, match="implausible"):
        parse_citizen_id("440524188001010014", today=TODAY)


# GB 32100: alphabet 0-9 A B C D E F G H J K L M N P Q R T U W X Y (A=10 … Y=30), weights
# 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28, check = alphabet[(31 - sum % 31) % 31]
#
# 91350100M000100Y43: 9·1 + 1·3 + 3·9 + 5·27 + 0 + 1·26 + 0 + 0 + M(21)·20 + 0 + 0 + 0 + 1·8 + 0 + 0
#   + Y(30)·30 + 4·28 = 9+3+27+135+26+420+8+900+112 = 1640; 1640 % 31 = 28; 31-28 = 3 → "3"
# 914403001922038216: 9+3+36+108+0+78+0+0+20+261+50+26+0+72+80+60+28 = 831; 831 % 31 = 25; 31-25 = 6 → "6"
# 91320500000000000R: 9·1 + 1·3 + 3·9 + 2·27 + 0 + 5·26 = 223; 223 % 31 = 6; 31-6 = 25 → "R"


@pytest.mark.parametrize("code", ["91350100M000100Y43", "914403001922038216", "91320500000000000R"])
def test_valid_uscc(code):
    assert validate_uscc(code) == code


def test_uscc_normalised_to_capitals():
    assert validate_uscc(" 91350100m000100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize("code", ["91350100M000100Y44", "914403001922038217", "91320500000000000Q"])
def test_uscc_wrong_check_character(code):
    with pytest.raises(IdentityError, match="check character"):
        validate_uscc(code)


@pytest.mark.parametrize("code", ["", "91350100M000100Y4", "91350100M000100Y433", "91350100I000100Y43",
                                  "91350100O000100Y43", "9135010-M000100Y43"])
def test_uscc_bad_shape(code):
    with pytest.raises(IdentityError, match="18 characters"):
        validate_uscc(code)


@pytest.mark.parametrize(("value", "code"), [("01", "01"), ("1", "01"), ("汉族", "01"), ("汉", "01"),
                                             ("蒙古族", "02"), ("蒙古", "02"), ("56", "56"), ("基诺族", "56"),
                                             ("98", "98"), (" 回族 ", "03")])
def test_ethnicity_by_code_name_short_name(value, code):
    assert ethnicity_code(value) == code


@pytest.mark.parametrize("value", ["57", "00", "99", "火星族", "Han", ""])
def test_unknown_ethnicity_refused(value):
    with pytest.raises(IdentityError, match="unknown ethnicity"):
        ethnicity_code(value)


@pytest.mark.parametrize(("value", "ok"), [("13912345678", True), ("19912345678", True), ("12912345678", False),
                                           ("1391234567", False), ("051265001234", False)])
def test_valid_mobile(value, ok):
    assert valid_mobile(value) is ok
