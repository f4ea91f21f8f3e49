"""The one Ctrl-C/SIGTERM policy: what the first and later signals do in each reaction."""

from __future__ import annotations

import os
import signal

import pytest

from harness.platform.signals import Interrupted, Reaction, SignalPolicy


def _deliver(signum: int) -> None:
    os.kill(os.getpid(), signum)
    signal.sigtimedwait([], 0)  # give the handler a bytecode boundary to run at


def test_first_signal_raises_and_later_ones_wait_for_the_restore() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    policy = SignalPolicy()
    with policy, pytest.raises(Interrupted) as info:
        _deliver(signal.SIGTERM)
    assert info.value.signum == signal.SIGTERM
    assert info.value.exit_code == 143 == policy.exit_code
    assert policy.reaction is Reaction.FINISH  # a second signal would not interrupt the restore
    with SignalPolicy() as deferred:
        deferred.finish()
        _deliver(signal.SIGINT)  # recorded, not raised: the restore must finish
    assert deferred.received == [signal.SIGINT] and deferred.exit_code == 130
    assert signal.getsignal(signal.SIGTERM) == previous


def test_during_load_signals_are_recorded_and_a_second_skips_the_report(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with SignalPolicy(reaction=Reaction.STOP_LOAD) as policy:
        _deliver(signal.SIGINT)
        assert policy.stop_requested and not policy.skip_report
        _deliver(signal.SIGTERM)
    assert policy.skip_report and policy.exit_code == 130
    err = capfd.readouterr().err
    assert "stopping the load" in err and "restoring the formation first" in err


def test_nested_entries_share_one_installation() -> None:
    previous = signal.getsignal(signal.SIGINT)
    policy = SignalPolicy(reaction=Reaction.STOP_LOAD)
    with policy:
        with policy:
            assert signal.getsignal(signal.SIGINT) == policy.handle
        assert signal.getsignal(signal.SIGINT) == policy.handle  # the inner exit keeps the handler
    assert signal.getsignal(signal.SIGINT) == previous
    assert policy.exit_code == 0
