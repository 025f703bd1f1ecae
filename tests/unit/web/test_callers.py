from __future__ import annotations

import pytest

from backend.core.jobs import Job, JobStatus
from backend.settings import Settings
from backend.web.callers import ANONYMOUS, Caller, identify, token_owner

ADMIN = "unit-admin-token-123"
TOKEN = "unit-api-token-0123456"


def job(owner: str | None) -> Job:
    return Job(
        id="j", task="uppercase", text="", args={}, status=JobStatus.QUEUED, attempts=0,
        max_attempts=3, created=0.0, owner=owner,
    )  # fmt: skip


def test_with_no_tokens_every_caller_is_the_anonymous_one() -> None:
    settings = Settings()
    for bearer in (None, "anything-at-all-here", TOKEN):
        assert identify(settings, bearer, None) == Caller(ANONYMOUS)


def test_with_api_tokens_a_caller_is_named_after_its_token_never_by_it() -> None:
    settings = Settings(api_tokens=[TOKEN, "another-api-token-01"])
    caller = identify(settings, TOKEN, None)
    assert caller == Caller(token_owner(TOKEN))
    assert caller is not None and TOKEN not in caller.owner
    assert caller.owner == token_owner(TOKEN) != token_owner("another-api-token-01")
    assert identify(settings, None, None) is None
    assert identify(settings, "not-one-of-them-0000", None) is None


@pytest.mark.parametrize(("bearer", "header"), [(ADMIN, None), (None, ADMIN), (TOKEN, ADMIN)])
def test_the_admin_token_is_accepted_wherever_a_token_is(bearer: str, header: str) -> None:
    caller = identify(Settings(api_tokens=[TOKEN], admin_token=ADMIN), bearer, header)
    assert caller is not None and caller.admin
    assert caller.sees_only is None


def test_an_unset_admin_token_makes_nobody_admin() -> None:
    caller = identify(Settings(), "", "")
    assert caller is not None and not caller.admin


def test_a_caller_sees_its_own_jobs_and_the_admin_every_job() -> None:
    alice = Caller(token_owner(TOKEN))
    assert alice.may_see(job(alice.owner))
    assert not alice.may_see(job("a-socket-session-id"))
    assert not alice.may_see(job(None))
    assert Caller(ANONYMOUS).may_see(job(None))
    assert not Caller(ANONYMOUS).may_see(job("a-socket-session-id"))
    assert Caller("x", admin=True).may_see(job("a-socket-session-id"))
