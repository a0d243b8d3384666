"""Distill: grounded question / thinking / answer records from the corpus, for fine-tuning a small
domain model and for an evaluation set about the user's own documents (:mod:`ponder.distill.run`)."""

from ponder.distill.questions import KINDS
from ponder.distill.records import FORMATS, Limits
from ponder.distill.run import Distiller, DistillOptions, DistillResult, Estimate

__all__ = ["FORMATS", "KINDS", "DistillOptions", "DistillResult", "Distiller", "Estimate", "Limits"]
