"""The ``edit_rules`` generator and the rule-derived edit types (no LLM call).

- :mod:`.context`: what a rule sees (:class:`RuleContext`), the options, and what a
  rule-derived type is (:class:`RuleType`, catalog :data:`RULE_TYPES`);
- :mod:`.payloads`: what each type writes, one attrs class per type;
- :mod:`.from_records`, :mod:`.from_scenes`: the rules; :mod:`.helpers`: their wording;
- :mod:`.references`: visual_reference's image pool;
- :mod:`.builtin`: the builtin types; :mod:`.generator`: the generator.
"""

from __future__ import annotations

from .builtin import BUILTIN_RULE_TYPES
from .context import RULE_TYPES, RuleContext, RulesOptions, RuleType
from .generator import PreparedRules, RulesGenerator, prepare_rules, rule_keys
from .payloads import RuleEdit

__all__ = [
    "BUILTIN_RULE_TYPES",
    "RULE_TYPES",
    "PreparedRules",
    "RuleContext",
    "RuleEdit",
    "RuleType",
    "RulesGenerator",
    "RulesOptions",
    "prepare_rules",
    "rule_keys",
]
