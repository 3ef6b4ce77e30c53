import pytest

from exo_domain.powershell import ps_literal
from tests.powershell_parse import calls, parse, single_literal, syntax_problems, unquote

HOSTILE = [
    "",
    "plain",
    "o'brien@contoso.com",
    "it‘s",
    "it’s",
    "low‚quote",
    "reversed‛quote",
    "'‘’‚‛",
    "''",
    "'; Remove-Item -Recurse C:\\ ; '",
    "$(Remove-Item C:\\)",
    "$env:USERPROFILE",
    "back`tick`n",
    "new\nline\r\nand\ttab",
    'double "quotes" “curly”',
    "#not a comment",
    "<#not a block comment#>",
    "@'not a here-string'@",
    "\u2018\u2018\u2018",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_literal_reads_back_as_the_exact_value_under_powershell_quote_rules(value: str) -> None:
    """PowerShell's tokenizer, which ends strings at ' and U+2018..U+201B, reads the literal back as the value."""
    literal = ps_literal(value)
    assert unquote(literal) == (value, len(literal))


@pytest.mark.parametrize("value", HOSTILE)
def test_literal_is_one_argument_in_a_parsed_command(value: str) -> None:
    """A command with the literal as its argument parses cleanly and has exactly that one argument."""
    root = parse(f"Write-Output -InputObject {ps_literal(value)}\n")
    assert syntax_problems(root) == []
    (call,) = calls(root)
    assert single_literal(call.arguments["InputObject"]) == value


def test_every_kind_of_single_quote_is_doubled_and_nothing_else_changes() -> None:
    """Each of the five single-quote characters is doubled; other characters pass through untouched."""
    assert ps_literal("a'b‘c’d‚e‛f$`\"") == "'a''b‘‘c’’d‚‚e‛‛f$`\"'"
