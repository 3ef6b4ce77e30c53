"""Golden files: the example stacks' scripts, rendered with stand-in IDs, exactly as committed.

`EXO_OAUTH_UPDATE_GOLDEN=1 pytest tests/test_exchange_golden.py` rewrites them; review the diff before committing.
"""

from datetime import UTC, datetime

import pytest

from exo_domain.exchange_actions import ACTIONS, script_name
from exo_domain.exchange_scripts import render_exchange_scripts
from exo_oauth.fleet.project import load_stack
from exo_oauth.plan.offline import plan_stack
from tests.exchange_factory import example
from tests.generated import check_generated
from tests.stack_factory import PROJECT, REPO

GOLDEN = REPO / "tests" / "golden" / "exchange"


@pytest.mark.parametrize("stack", ["contoso", "fabrikam"])
@pytest.mark.parametrize("action", ACTIONS)
def test_example_stack_script_matches_its_golden_file(stack: str, action: str) -> None:
    """The script rendered from the example stack file is byte for byte the reviewed golden file."""
    rendered = render_exchange_scripts(example(stack)[1])[action]
    golden = GOLDEN / stack / script_name(action)

    def write() -> None:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered, encoding="utf-8", newline="\n")

    current = golden.read_text(encoding="utf-8") if golden.exists() else ""
    check_generated(current, rendered, write, "EXO_OAUTH_UPDATE_GOLDEN")


@pytest.mark.parametrize("stack", ["contoso", "fabrikam"])
def test_offline_plan_shows_the_golden_scripts(stack: str) -> None:
    """The offline plan's `exchange` output is the golden scripts: the plan shows what `pulumi up` will write."""
    outputs = plan_stack(REPO, load_stack(PROJECT, stack), datetime.now(UTC)).outputs
    assert outputs["exchange"] == {a: (GOLDEN / stack / script_name(a)).read_text(encoding="utf-8") for a in ACTIONS}
