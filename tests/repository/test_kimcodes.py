"""KIM IDs: every form round-trips, anything else is refused with the offending text named."""

import re
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from repository import kimcodes, storage
from repository.errors import InvalidKIMID
from repository.kimcodes import KIMCode, format_kim_code, parse_kim_code

# KIM-FACTS' grammar written out independently of kimcodes: the oracle for the properties.
SPEC_RE = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*__)?([A-Z]{2})_[0-9]{12}(?:_[0-9]{3})?")

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True)
leaders = st.sampled_from(sorted(kimcodes.LEADERS))
numbers = st.from_regex(r"[0-9]{12}", fullmatch=True)
versions = st.integers(min_value=0, max_value=999)
codes = st.builds(KIMCode, leader=leaders, number=numbers,
                  version=st.none() | versions, name=st.none() | names)


@given(codes)
@example(KIMCode("TE", "248695510051", 0, "LatticeConstantCubicEnergy_Fe_fcc"))
@example(KIMCode("MO", "000000000001", 5, "a__b"))
@example(KIMCode("TE", "000000000001", 5, "a_"))
@example(KIMCode("TE", "000000000001", 5, "AB_000000000000"))
def test_parse_inverts_format_for_every_form(code):
    text = format_kim_code(code.name, code.leader, code.number, code.version)
    assert parse_kim_code(text) == code
    assert str(parse_kim_code(text)) == text
    assert SPEC_RE.fullmatch(text)


@given(st.text(alphabet="TEMORDPVX_ab19 -.", max_size=40))
@example("TE_24869551005_000")       # 11 digits
@example("TE_2486955100511_000")     # 13 digits
@example("te_248695510051_000")      # lower-case leader
@example("XX_248695510051_000")      # unknown leader
@example("TE_248695510051_00")       # 2-digit version
@example("1abc__TE_248695510051_000")  # name starts with a digit
@example(" TE_248695510051_000")     # surrounding space
@example("Name_TE_248695510051_000")  # single underscore before the leader
def test_text_parses_exactly_when_it_follows_the_grammar(text):
    match = SPEC_RE.fullmatch(text)
    if match and match[1] in kimcodes.LEADERS:
        assert str(parse_kim_code(text)) == text
    else:
        with pytest.raises(InvalidKIMID) as caught:
            parse_kim_code(text)
        assert repr(text) in str(caught.value)
        assert not kimcodes.is_kim_code(text)


@given(codes)
def test_required_parts_are_enforced(code):
    text = str(code)
    if code.version is None:
        with pytest.raises(InvalidKIMID, match="no version"):
            parse_kim_code(text, require_version=True)
    else:
        assert parse_kim_code(text, require_version=True).version == code.version
    if code.name is None:
        with pytest.raises(InvalidKIMID, match="no name"):
            parse_kim_code(text, require_name=True)
    other = "MO" if code.leader != "MO" else "TE"
    with pytest.raises(InvalidKIMID, match=f"expected {other}"):
        parse_kim_code(text, leader=other)
    assert parse_kim_code(text, leader=(other, code.leader)) == code


@given(codes)
def test_strip_version_keeps_the_lineage(code):
    stripped = parse_kim_code(kimcodes.strip_version(str(code)))
    assert (stripped.lineage, stripped.name, stripped.version) == (code.lineage, code.name, None)


def test_parse_refuses_what_is_not_text():
    with pytest.raises(InvalidKIMID, match="must be text"):
        parse_kim_code(248695510051)


@pytest.mark.parametrize("args, message", [
    ((None, "QQ", "000000000001", 0), "unknown leader"),
    ((None, "TE", "12", 0), "12 digits"),
    ((None, "TE", "000000000001", 1000), "3 digits"),
    (("9lives", "TE", "000000000001", 0), "malformed KIM ID name"),
])
def test_format_refuses_bad_parts(args, message):
    with pytest.raises(InvalidKIMID, match=message):
        format_kim_code(*args)


def test_format_pads_integer_numbers():
    assert format_kim_code(None, "TR", 42, 1) == "TR_000000000042_001"


def test_new_result_code_redraws_while_taken():
    taken = set()
    first = kimcodes.new_result_code("TR")
    taken.add(str(first))
    drawn = [kimcodes.new_result_code("ER", exists=lambda c: c in taken) for _ in range(20)]
    assert all(c.leader == "ER" and c.version == 0 and str(c) not in taken for c in drawn)
    calls = iter([True, True, False])
    assert kimcodes.new_result_code("VR", exists=lambda c: next(calls)).leader == "VR"
    with pytest.raises(InvalidKIMID):
        kimcodes.new_result_code("TE")


def test_search_regex_finds_ids_inside_templates():
    text = "@PATH[LatticeConstantCubicEnergy__TD_373755852346_000]\n@DATA[TE_248695510051][MO_1]"
    assert kimcodes.KIMID_SEARCH_RE.findall(text) == [
        "LatticeConstantCubicEnergy__TD_373755852346_000", "TE_248695510051"]


def test_item_path_is_under_the_leader_folder(repository_dir):
    path = storage.item_path("LJ_Ar__SM_000000000031_000")
    assert path == repository_dir / "sm" / "LJ_Ar__SM_000000000031_000"
    assert storage.item_path("TE_000000000001_000", root=Path("/x")) == Path("/x/te/TE_000000000001_000")


@given(codes)
def test_name_with_double_underscores_never_changes_the_lineage(code):
    assume(code.name is not None)
    text = str(code.with_name(code.name + "__" + code.name))
    assert parse_kim_code(text).lineage == code.lineage


@given(codes, st.integers(min_value=0, max_value=60), st.sampled_from("_aZ09 -\n"),
       st.sampled_from(["replace", "insert", "delete"]))
def test_one_character_edits_of_valid_ids_are_judged_by_the_grammar(code, index, char, edit):
    text = str(code)
    index %= len(text)
    edited = {"replace": text[:index] + char + text[index + 1:],
              "insert": text[:index] + char + text[index:],
              "delete": text[:index] + text[index + 1:]}[edit]
    match = SPEC_RE.fullmatch(edited)
    if match and match[1] in kimcodes.LEADERS:
        assert str(parse_kim_code(edited)) == edited
    else:
        with pytest.raises(InvalidKIMID):
            parse_kim_code(edited)


# The 2012 pipeline's RE_KIMID (b7265ef: 12 digits), name and version optional: the oracle for
# what a 2012 folder name may be (a folder also needs its version, to be one item).
RE_KIMID_2012 = re.compile(r"(?:([_a-zA-Z][_a-zA-Z0-9]*?)__)?([A-Z]{2})_([0-9]{12})(?:_([0-9]{3}))?")


@given(codes)
@example(KIMCode("PR", "044492852008", 0))
@example(KIMCode("PR", "044492852008", None))
@example(KIMCode("TE", "248695510051", 0, "LatticeConstantCubicEnergy_Fe_fcc"))
def test_a_2012_folder_may_be_named_by_a_code_without_name(code):
    text = str(code)
    matched = RE_KIMID_2012.fullmatch(text)
    assert matched and matched[2] == code.leader
    if code.version is None:
        for format_2012 in (False, True):
            with pytest.raises(InvalidKIMID, match="no version"):
                kimcodes.parse_item_folder_name(text, format_2012=format_2012)
        return
    assert kimcodes.parse_item_folder_name(text, format_2012=True) == code
    if code.name is None:
        # A 2020 folder is named by its extended ID, which always has the name.
        with pytest.raises(InvalidKIMID, match="no name"):
            kimcodes.parse_item_folder_name(text)
    else:
        assert kimcodes.parse_item_folder_name(text) == code


@given(st.text(alphabet="PRTE_0123456789ab", max_size=24))
@example("PR_044492852008_000")
@example("PR_04449285200_000")   # 11 digits: the seed's FIXME range, refused since b7265ef
@example("PR_044492852008_")
def test_a_2012_folder_name_is_what_re_kimid_matched_with_a_version(text):
    matched = RE_KIMID_2012.fullmatch(text)
    if matched and matched[4] is not None and matched[2] in kimcodes.LEADERS:
        assert str(kimcodes.parse_item_folder_name(text, format_2012=True)) == text
    else:
        with pytest.raises(InvalidKIMID):
            kimcodes.parse_item_folder_name(text, format_2012=True)
