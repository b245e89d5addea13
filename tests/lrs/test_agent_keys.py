"""The stored key of an account Agent (lrs.identifiers): its direct form must be byte for byte the
``json.dumps`` form keys were stored with, or a learner's earlier statements stop matching their
``agent`` filter."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from lrs.identifiers import agent_key

# Every character class the two writers could treat differently: escaped by JSON ('"', '\\',
# U+0000-U+001F), left as is (DEL, U+2028, non-ASCII, astral), and lone surrogates.
_TEXT = st.text(alphabet=st.sampled_from(['a', '"', '\\', '\x00', '\x1f', '\x7f', '\u2028', 'ệ', '😀', '\ud800', '/',
                                          '\n', ' ']), max_size=8)


@given(home=_TEXT, name=_TEXT)
def test_account_key_is_the_json_dumps_form_xapi_1_0_3_part_three_2_1_3(home: str, name: str) -> None:
    """xAPI 1.0.3 Part Three §2.1.3: the same IFI is the same Agent, so the key's text never changes."""
    agent = {"account": {"homePage": home, "name": name}}
    assert agent_key(agent) == "agent|account:" + json.dumps([home, name], ensure_ascii=False)


def test_account_key_of_values_that_are_not_strings_keeps_the_json_dumps_form() -> None:
    for home, name in ((None, "x"), ("x", 1), (None, None), ("https://vneid.gov.vn", ["a"])):
        agent = {"objectType": "Group", "account": {"homePage": home, "name": name}}
        assert agent_key(agent) == "group|account:" + json.dumps([home, name], ensure_ascii=False)
