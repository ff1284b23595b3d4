"""eligibility: rules as code for China's social assistance (社会救助).

The public API; everything else is internal. The layers below it (base, lang, compile, engine,
explain, audit, testing, scale) are described in docs/explanation/design.md.
"""

from eligibility.audit.canonical import dumps_record, loads_record, make_record
from eligibility.audit.replay import replay
from eligibility.audit.verify import verify_record
from eligibility.base.errors import (
    Diagnostic,
    EligibilityError,
    EvaluationError,
    InputError,
    InputProblem,
    PolicyError,
    PolicyTestFailure,
)
from eligibility.base.version import __version__
from eligibility.engine.runtime import Decision, Engine, ProgramDecision, RecordDecision, load
from eligibility.engine.where import Office, Pending, ProgramPlaces, Reason, WhereToApply
from eligibility.scale.results import BatchResult
from eligibility.scale.stream import decide_many

__all__ = [
    "BatchResult",
    "Decision",
    "Diagnostic",
    "EligibilityError",
    "Engine",
    "EvaluationError",
    "InputError",
    "InputProblem",
    "Office",
    "Pending",
    "PolicyError",
    "PolicyTestFailure",
    "ProgramDecision",
    "ProgramPlaces",
    "Reason",
    "RecordDecision",
    "WhereToApply",
    "__version__",
    "decide_many",
    "dumps_record",
    "load",
    "loads_record",
    "make_record",
    "replay",
    "verify_record",
]
