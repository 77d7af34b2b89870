"""Optional: Microsoft Presidio's pattern recognizers and a user-installed spaCy model, offline.

``pip install 'labelloop[presidio]'``. Presidio's default ``AnalyzerEngine`` loads
(and downloads) a spaCy model; here no engine is built. Each configured entity
is served by Presidio's own pattern recognizers, called directly without NLP
artifacts, and ``PERSON`` / ``LOCATION`` by a spaCy model the user installed
(a package name or a folder), loaded with ``spacy.load`` only after checking it
is there — never downloaded. Presidio's e-mail and URL recognizers are left out:
they look domains up with ``tldextract``, which fetches the public suffix list
from the network (labelloop's own detectors cover e-mails and URL credentials).

Findings come as :class:`labelloop.domain.pii.Finding` with the Presidio entity
name (``US_PASSPORT``, ``PERSON``...); :class:`labelloop.stages.pii.PiiStage`
applies their actions like its own.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labelloop.domain.pii import Finding
from labelloop.errors import ConfigError, MissingDependencyError

__all__ = ["NER_ENTITIES", "PresidioDetector"]

#: Entities found by the spaCy model rather than by patterns, with the spaCy labels that mean them.
NER_ENTITIES: dict[str, frozenset[str]] = {
    "PERSON": frozenset({"PERSON", "PER"}),
    "LOCATION": frozenset({"GPE", "LOC", "FAC", "LOCATION"}),
}
_NETWORKED = frozenset({"EmailRecognizer", "UrlRecognizer"})


def _pattern_recognizers(language: str) -> dict[str, list[Any]]:
    """Presidio's offline pattern recognizers for ``language``, by the entity they find."""
    from presidio_analyzer import PatternRecognizer
    from presidio_analyzer import predefined_recognizers as predefined

    found: dict[str, list[Any]] = {}
    for name in dir(predefined):
        cls = getattr(predefined, name)
        if not isinstance(cls, type) or not issubclass(cls, PatternRecognizer) or name in _NETWORKED:
            continue
        factory: Any = cls  # predefined recognizers take their patterns from their own defaults
        try:
            recognizer = factory(supported_language=language)
        except Exception:  # a recognizer that cannot be built for this language is not offered
            continue
        for entity in recognizer.supported_entities:
            found.setdefault(entity, []).append(recognizer)
    return found


class PresidioDetector:
    """Presidio pattern recognizers (and optionally spaCy NER) for the configured entities."""

    def __init__(
        self, entities: Mapping[str, str], *, language: str = "en", spacy_model: str | None = None, min_score: float
    ) -> None:
        if importlib.util.find_spec("presidio_analyzer") is None:
            raise MissingDependencyError.for_extra("stages.pii.presidio", "presidio")
        self.entities = dict(entities)
        self.min_score = min_score
        available = _pattern_recognizers(language)
        wanted_ner = {e for e in self.entities if e in NER_ENTITIES}
        unknown = sorted(set(self.entities) - set(available) - wanted_ner)
        if unknown:
            known = ", ".join(sorted(set(available) | set(NER_ENTITIES)))
            raise ConfigError(f"stages.pii.presidio: unknown entities {unknown} (offline, known: {known})")
        self.recognizers = {e: available[e] for e in self.entities if e in available}
        self.nlp: Any = None
        if wanted_ner:
            if not spacy_model:
                raise ConfigError(
                    f"stages.pii.presidio: {sorted(wanted_ner)} need a spaCy model you installed: set spacy_model"
                )
            self.nlp = _load_spacy(spacy_model)

    def find(self, text: str) -> list[Finding]:
        """Findings of the configured entities in ``text`` (may overlap; the caller resolves)."""
        out: list[Finding] = []
        for entity, recognizers in self.recognizers.items():
            for recognizer in recognizers:
                for result in recognizer.analyze(text, entities=[entity], nlp_artifacts=None):
                    if result.score >= self.min_score:
                        out.append(Finding(entity, result.start, result.end))
        if self.nlp is not None:
            for ent in self.nlp(text).ents:
                for entity, labels in NER_ENTITIES.items():
                    if entity in self.entities and ent.label_ in labels:
                        out.append(Finding(entity, ent.start_char, ent.end_char))
        return out


def _load_spacy(model: str) -> Any:
    if importlib.util.find_spec("spacy") is None:
        raise MissingDependencyError.for_extra("stages.pii.presidio.spacy_model", "presidio")
    import spacy

    # Presidio's engine would download a missing model; spacy.load never does.
    if not (spacy.util.is_package(model) or Path(model).exists()):
        raise ConfigError(
            f"stages.pii.presidio.spacy_model: '{model}' is not installed (labelloop never downloads models; "
            "install the package or give the folder of a saved pipeline)"
        )
    return spacy.load(model)
