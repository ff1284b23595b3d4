"""eligibility: rules as code for China's social assistance (社会救助)."""

__version__ = "0.1.0"

from .errors import (
                     Diagnostic,
                     EligibilityError,
                     EvaluationError,
                     InputError,
                     InputProblem,
                     PolicyError,
                     PolicyTestFailure,
)
from .record import dumps_record, make_record, replay, verify_record
from .runtime import Decision, Engine, ProgramDecision, RecordDecision, load

__all__ = [
    "Decision",
    "Diagnostic",
    "EligibilityError",
    "Engine",
    "EvaluationError",
    "InputError",
    "InputProblem",
    "PolicyError",
    "PolicyTestFailure",
    "ProgramDecision",
    "RecordDecision",
    "__version__",
    "dumps_record",
    "load",
    "make_record",
    "replay",
    "verify_record",
]
