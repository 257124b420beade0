"""The file-descriptor budget: the cap and backlog fit in the limit, and the limit is raised."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

from service import limits
from service.server.budget import connection_budget


@pytest.mark.parametrize(
    ("setting", "descriptors", "cap", "backlog"),
    [
        # spare = descriptors − 256; backlog = min(2048, spare // 2); cap = spare − backlog
        (4096, 1_048_576, 4096, 2048),  # Docker's and Kubernetes' usual limit: the setting
        (4096, 20_000, 4096, 2048),
        (4096, 4096, 1920, 1920),  # spare 3840
        (4096, 1024, 384, 384),  # a common default soft limit: spare 768
        (100, 1024, 100, 384),  # the setting, when lower
        (4096, 300, 22, 22),  # spare 44
        (4096, 256, 1, 1),  # nothing spare: one connection, never zero
    ],
)
def test_the_cap_and_backlog_fit_in_the_descriptors(
    setting: int, descriptors: int, cap: int, backlog: int
) -> None:
    budget = connection_budget(setting, descriptors)
    assert (budget.max_connections, budget.backlog) == (cap, backlog)
    assert budget.file_descriptors == descriptors


@pytest.mark.parametrize("descriptors", [258, 300, 1000, 1024, 5000, 20_000, 65_536, 10**6])
def test_connections_backlog_and_reserve_never_exceed_the_limit(descriptors: int) -> None:
    budget = connection_budget(10**9, descriptors)
    assert budget.max_connections + budget.backlog + limits.FD_RESERVE <= descriptors
    assert budget.max_connections >= 1 and budget.backlog >= 1


def test_the_soft_limit_is_raised_to_the_hard_limit() -> None:
    """In a child whose soft limit was lowered (the raise is for the whole process)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(soft, hard, 512) - 1
    code = (
        "import json, resource\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({low}, {hard}))\n"
        "from service.server.budget import raise_file_descriptor_limit\n"
        "before, after = raise_file_descriptor_limit()\n"
        "print(json.dumps([before, after, resource.getrlimit(resource.RLIMIT_NOFILE)[0]]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [low, hard, hard]
