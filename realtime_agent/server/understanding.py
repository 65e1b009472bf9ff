"""Understanding the user's words: which tool to call, and with which arguments.

The local server's stand-in model (:class:`~realtime_agent.server.responder.RuleResponder`)
decides with this module, for typed text and recognized speech alike. It is pure: words and
tool schemas in, an :data:`Intent` out (:class:`Call`, :class:`Ask` or :class:`NoTool`).

**Which tool.** Each tool's words - its name (split at ``_`` and at camel case), its
description, its parameter names and enum values - are compared with the utterance's, stem
to stem ("lights" is "light"), with a few synonyms ("forecast" and "temperature" for
"weather"). A word of the name scores 2, any other word 1, a synonym three quarters of
that. The best tool is chosen if it scores at least :data:`THRESHOLD` (ties: the first), so
small talk ("hello", "thank you", "how are you") calls nothing.

**Its arguments**, from what was said, never made up:

* enum values named in the utterance ("in fahrenheit" gives ``unit`` its value);
* numbers, in digits or words ("five minutes" is 5, "twenty five" 25, "a hundred" 100),
  the one next to a word of the parameter first ("thirty seconds" for ``seconds``);
* booleans from "on"/"off", "yes"/"no", "true"/"false", "enable"/"disable";
* strings from the words after a preposition ("in tokyo", "for Ada", "to London", "about
  lunch"), the preposition fitting the parameter (a place, a person, a topic), else a
  proper noun (a capitalised word that does not start a sentence); a free-text parameter
  (a query, a subject) takes the rest of the clause, or the words after the tool's own
  word ("search python tutorials"). Names are title-cased, since recognized speech is
  lower-case; free text is kept as said;
* the schema's default when not said; an optional parameter neither said nor defaulted
  is left out.

**A required argument not said** is asked for: :class:`Ask` holds a short question
naming the parameter ("Which city?"), from its description when it has a short one, and
:func:`answer` reads the user's reply to it ("Paris", "in Paris").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from realtime_agent.schema.session import FunctionTool

__all__ = ["THRESHOLD", "Ask", "Call", "Intent", "NoTool", "answer", "understand"]


@dataclass(frozen=True, slots=True)
class Call:
    """Call the tool ``tool`` with ``arguments`` (a JSON object)."""

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ask:
    """Ask ``question``: the required ``parameter`` of ``tool`` was not said.

    ``said`` holds the arguments understood so far; pass this to :func:`answer` with the
    user's reply.
    """

    tool: str
    parameter: str
    question: str
    said: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NoTool:
    """No tool fits the words: small talk."""


Intent = Call | Ask | NoTool

THRESHOLD = 1.5
"""The least score that calls a tool: a word of its name, or two of its other words."""

_STOP = frozenset(
    """a an the i me my we us our you your it its this that these those is are was were be
    am been do does did can could would will should shall may might must please what which
    who whom how when where why there here get set give show tell let lets want wanna need
    like know check just now today tonight tomorrow right some any up out about to of in on
    at for from by with and or but so if not no yes ok okay um uh er well hi hello hey
    thanks thank think also then than very really much many make go going next last
    coming""".split()
)
_ARTICLES = frozenset({"the", "a", "an", "my", "our", "your", "his", "her", "their", "this"})
_ANY = frozenset({"place", "person", "topic"})
_PREPOSITIONS: Mapping[str, frozenset[str]] = {
    "in": frozenset({"place"}),
    "at": frozenset({"place"}),
    "near": frozenset({"place"}),
    "around": frozenset({"place"}),
    "from": frozenset({"place", "person"}),
    "to": frozenset({"place", "person"}),
    "with": frozenset({"person"}),
    "for": _ANY,
    "called": _ANY,
    "named": _ANY,
    "about": frozenset({"topic"}),
    "regarding": frozenset({"topic"}),
    "saying": frozenset({"topic"}),
}
_LEADING = frozenset({*_PREPOSITIONS, *_ARTICLES, "of", "me", "us", "up", "please", "some"})
"""Words a value does not start with: "look up the news" is the news."""
_TRAILING = frozenset({*_PREPOSITIONS, *_ARTICLES, "and", "or", "please", "now"})
"""Words a value does not end with: "the meeting in" is the meeting."""
_CATEGORIES: Mapping[str, frozenset[str]] = {
    "place": frozenset(
        "city town place location room country where area address destination region "
        "origin state restaurant hotel shop store venue".split()
    ),
    "person": frozenset("to recipient name person who contact user attendee friend".split()),
    "topic": frozenset(
        "query subject topic text message body content prompt question title search term "
        "keyword about note".split()
    ),
}
_SYNONYMS = (
    "weather whether forecast temperature rain raining sunny snow wind hot cold degree",
    "timer alarm countdown remind reminder",
    "light lamp lighting",
    "email mail",
    "search find look lookup google",
    "time clock",
    "hang hangup bye goodbye",
)
_UNITS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    word: 10 * value
    for value, word in enumerate(
        "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2
    )
}
_SCALES = {"hundred": 100, "thousand": 1000}
_UNIT_NOUNS = frozenset("second minute hour day week month year degree percent".split())
_TRUE = frozenset({"on", "yes", "true", "enable", "enabled", "activate"})
_FALSE = frozenset({"off", "no", "false", "disable", "disabled", "deactivate"})
_CANCEL = ("cancel", "never mind", "nevermind", "forget it")
_WORD = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+(?:'[^\W\d_]+)?")


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    """As written (``What's``)."""
    lower: str
    """Lower-case, without a final ``'s`` (``what``)."""
    stem: str
    start: int
    end: int
    sentence_start: bool
    clause_end: bool
    """Punctuation follows."""


def understand(text: str, tools: Sequence[FunctionTool]) -> Intent:
    """What ``text`` asks of ``tools``: call one, ask for a missing argument, or no tool."""
    words = _words(text)
    tool = _choose(words, tools)
    if tool is None:
        return NoTool()
    return _decide(tool, _said(tool, words, text))


def answer(question: Ask, text: str, tools: Sequence[FunctionTool]) -> Intent:
    """The intent of ``text``, the user's reply to ``question`` ("Paris", "in Paris").

    The reply fills the asked parameter (and any other it names); a reply that asks for
    another tool is read as such ("set a timer for five minutes"); "cancel" or "never
    mind" gives up (:class:`NoTool`). A reply with no value asks again.
    """
    tool = next((t for t in tools if t.name == question.tool), None)
    lowered = text.lower()
    if tool is None or any(re.search(rf"\b{cancel}\b", lowered) for cancel in _CANCEL):
        return NoTool()
    elsewhere = understand(text, tools)
    if not isinstance(elsewhere, NoTool) and elsewhere.tool != question.tool:
        return elsewhere
    heard = _said(tool, _words(text), text, asked=question.parameter, known=question.said)
    return _decide(tool, {**question.said, **heard})


# --- words -------------------------------------------------------------------------------


def _words(text: str) -> list[_Word]:
    text = text.replace("\u2019", "'")
    found = list(_WORD.finditer(text))
    words = []
    for index, match in enumerate(found):
        before = text[found[index - 1].end() : match.start()] if index else "."
        after = text[match.end() : found[index + 1].start() if index + 1 < len(found) else None]
        lower = re.sub(r"'s$", "", match.group().lower())
        words.append(
            _Word(
                text=match.group(),
                lower=lower,
                stem=_stem(lower),
                start=match.start(),
                end=match.end(),
                sentence_start=bool(re.search(r"[.!?]", before)),
                clause_end=bool(re.search(r"[.,!?;:]", after)),
            )
        )
    return words


def _stem(word: str) -> str:
    """A crude stem, the same for both sides of a comparison: lights, light; cities, city."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _spaced(name: str) -> str:
    """A name's words apart: getWeather, get Weather (``_words`` splits at ``_``)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)


def _stems(text: str) -> set[str]:
    """The stems of the content words of ``text`` (or of a name: get_weather, getWeather)."""
    return {word.stem for word in _words(_spaced(text)) if word.lower not in _STOP}


_SYNONYM_GROUPS = [{_stem(word) for word in group.split()} for group in _SYNONYMS]


def _synonyms(stem: str) -> set[str]:
    return {other for group in _SYNONYM_GROUPS if stem in group for other in group} - {stem}


# --- which tool --------------------------------------------------------------------------


def _vocabulary(tool: FunctionTool) -> dict[str, float]:
    """Each stem of the tool's words, weighted: 2 for its name's, 1 for the others'."""
    others = [tool.description or ""]
    for name, spec in _properties(tool).items():
        others.append(name)
        others.extend(str(value) for value in spec.get("enum") or ())
    weights = dict.fromkeys(_stems(" ".join(others)), 1.0)
    weights.update(dict.fromkeys(_stems(tool.name or ""), 2.0))
    return weights


def _score(words: Sequence[_Word], tool: FunctionTool) -> float:
    """Each word said scores once: its weight in the tool's words, or a synonym's."""
    vocabulary = _vocabulary(tool)
    score = 0.0
    for stem in {word.stem for word in words if word.lower not in _STOP}:
        near = max((vocabulary.get(other, 0.0) for other in _synonyms(stem)), default=0.0)
        score += max(vocabulary.get(stem, 0.0), 0.75 * near)
    return score


def _choose(words: Sequence[_Word], tools: Sequence[FunctionTool]) -> FunctionTool | None:
    best: FunctionTool | None = None
    best_score = THRESHOLD - 1e-9
    for tool in tools:
        score = _score(words, tool)
        if tool.name and score > best_score:
            best, best_score = tool, score
    return best


def _is_tool_word(word: _Word, tool: FunctionTool) -> bool:
    """True for a word that names the tool (or a synonym of its name): not a value."""
    names = _stems(tool.name or "")
    return word.lower not in _STOP and (word.stem in names or bool(_synonyms(word.stem) & names))


# --- arguments ---------------------------------------------------------------------------


def _properties(tool: FunctionTool) -> dict[str, Mapping[str, Any]]:
    properties = (tool.parameters or {}).get("properties")
    if not isinstance(properties, Mapping):
        return {}
    return {name: spec for name, spec in properties.items() if isinstance(spec, Mapping)}


def _kind(spec: Mapping[str, Any]) -> str:
    kind = spec.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return str(kind)


def _said(
    tool: FunctionTool,
    words: Sequence[_Word],
    text: str,
    asked: str | None = None,
    known: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The values ``words`` give the tool's parameters but the ``known`` ones; the
    ``asked`` parameter takes the whole reply if nothing else gives it one.

    The precise kinds go first and claim their words, so that a name is not read from
    them: in "the weather in tokyo in fahrenheit", "fahrenheit" is the unit, not a city.
    """
    properties = {n: spec for n, spec in _properties(tool).items() if n not in (known or {})}
    claimed = {index for index, word in enumerate(words) if _is_tool_word(word, tool)}
    said: dict[str, Any] = {}
    for name, spec in properties.items():
        if spec.get("enum"):
            value = _enum(words, spec["enum"], claimed)
            if value is not None:
                said[name] = value
    said.update(_numbers_for(properties, words, claimed))
    for name, spec in properties.items():
        if _kind(spec) == "boolean":
            flag = _boolean(words, claimed)
            if flag is not None:
                said[name] = flag
    strings = [
        name
        for name, spec in properties.items()
        if _kind(spec) == "string" and not spec.get("enum")
    ]
    # A place or a person first, then any string, then free text: each claims its words.
    order = {"place": 0, "person": 0, None: 1, "topic": 2}
    strings.sort(key=lambda name: order[_category(name, properties[name])])
    for name in strings:
        value = _string(words, text, claimed, _category(name, properties[name]), tool)
        if value is None and name == asked:
            value = _whole(words, text, claimed, _category(name, properties[name]))
        if value is not None:
            said[name] = value
    return said


def _decide(tool: FunctionTool, said: Mapping[str, Any]) -> Call | Ask:
    """Call the tool (defaults for what was not said), or ask for a required argument."""
    properties = _properties(tool)
    required = (tool.parameters or {}).get("required") or []
    name = tool.name or ""
    for parameter in [*properties, *(r for r in required if r not in properties)]:
        spec = properties.get(parameter, {})
        if parameter in required and parameter not in said and "default" not in spec:
            return Ask(name, parameter, _question(parameter, spec), dict(said))
    arguments = {
        parameter: said[parameter] if parameter in said else spec["default"]
        for parameter, spec in properties.items()
        if parameter in said or "default" in spec
    }
    return Call(name, arguments)


def _enum(words: Sequence[_Word], values: Sequence[Any], claimed: set[int]) -> Any:
    """The first of ``values`` whose words occur in ``words``, claiming them."""
    for value in values:
        target = [word.stem for word in _words(str(value))]
        for start in range(len(words) - len(target) + 1 if target else 0):
            span = range(start, start + len(target))
            if [words[i].stem for i in span] == target and not claimed & set(span):
                claimed.update(span)
                return value
    return None


def _numbers(words: Sequence[_Word]) -> list[tuple[int, int, float]]:
    """Every number said, in digits or words, as ``(first word, end word, value)``."""
    found = []
    index = 0
    while index < len(words):
        if words[index].lower[0].isdigit():
            found.append((index, index + 1, float(words[index].lower)))
            index += 1
            continue
        end, value = _spelled(words, index)
        if end > index:
            found.append((index, end, float(value)))
        index = max(end, index + 1)
    return found


def _spelled(words: Sequence[_Word], start: int) -> tuple[int, int]:
    """The number spelled from ``words[start]`` on: its end and value ("twenty five": 25)."""
    total = current = 0
    spelled = False
    index = start
    while index < len(words):
        word = words[index].lower
        following = words[index + 1].lower if index + 1 < len(words) else ""
        if word in _UNITS or word in _TENS:
            current += _UNITS.get(word, 0) + _TENS.get(word, 0)
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total, current = total + max(current, 1) * 1000, 0
        elif word in ("a", "an") and index == start and following in _SCALES:
            index += 1
            continue
        elif not (word == "and" and spelled and (following in _UNITS or following in _TENS)):
            break
        spelled = spelled or word != "and"
        index += 1
    return (index, total + current) if spelled else (start, 0)


def _numbers_for(
    properties: Mapping[str, Mapping[str, Any]], words: Sequence[_Word], claimed: set[int]
) -> dict[str, float | int]:
    """Numbers for the numeric parameters: first those said next to a word of one."""
    numeric = [n for n, spec in properties.items() if _kind(spec) in ("integer", "number")]
    free = [n for n in _numbers(words) if not claimed & set(range(n[0], n[1]))]
    said: dict[str, float | int] = {}

    terms = {n: _stems(f"{n} {properties[n].get('description') or ''}") for n in numeric}

    def take(name: str, number: tuple[int, int, float]) -> None:
        start, end, value = number
        if _kind(properties[name]) == "integer" and not value.is_integer():
            return
        said[name] = int(value) if value.is_integer() else value
        free.remove(number)
        claimed.update(range(start, end))
        if end < len(words) and words[end].stem in terms[name] | _UNIT_NOUNS:
            claimed.add(end)  # "minutes" in "five minutes" is no name either

    for name in numeric:
        beside = [n for n in free if _neighbours(words, n) & terms[name]]
        if beside:
            take(name, beside[0])
    for name in numeric:
        # A number said with another unit is not this one's: "thirty seconds" is no minutes.
        loose = [n for n in free if not (_neighbours(words, n) & _UNIT_NOUNS) - terms[name]]
        if name not in said and loose:
            take(name, loose[0])
    return said


def _neighbours(words: Sequence[_Word], number: tuple[int, int, float]) -> set[str]:
    start, end, _ = number
    return {words[i].stem for i in (start - 1, end) if 0 <= i < len(words)}


def _boolean(words: Sequence[_Word], claimed: set[int]) -> bool | None:
    for index, word in enumerate(words):
        if index not in claimed and word.lower in _TRUE | _FALSE:
            claimed.add(index)
            return word.lower in _TRUE
    return None


def _category(name: str, spec: Mapping[str, Any]) -> str | None:
    """What a string parameter holds: a place, a person, a topic (free text), or None."""
    for text in (name, str(spec.get("description") or "")):
        stems = {word.stem for word in _words(_spaced(text))}
        for category, known in _CATEGORIES.items():
            if stems & known:
                return category
    return None


def _string(
    words: Sequence[_Word],
    text: str,
    claimed: set[int],
    category: str | None,
    tool: FunctionTool,
) -> str | None:
    """A string value: free text after the tool's own word, else the words after a fitting
    preposition, else a proper noun, else (a person) the word after the tool's own word."""
    named = [index for index, word in enumerate(words) if _is_tool_word(word, tool)]
    if category == "topic" and named:
        value = _value(words, text, _past(words, named[-1] + 1, tool), claimed, category)
        if value is not None:
            return value
    for index, word in enumerate(words[:-1]):
        fits = _PREPOSITIONS.get(word.lower, frozenset())
        if index not in claimed and (category in fits or (category is None and fits)):
            value = _value(words, text, _past(words, index + 1, tool), claimed, category)
            if value is not None:
                return value
    if category == "topic":
        return None
    for index, word in enumerate(words):
        if word.text[0].isupper() and not word.sentence_start and word.lower not in _STOP:
            value = _value(words, text, index, claimed, category)
            if value is not None:
                return value
    if category == "person" and named:  # "email john about it"
        return _value(words, text, named[0] + 1, claimed, category)
    return None


def _past(words: Sequence[_Word], start: int, tool: FunctionTool) -> int:
    """Where a value can begin from ``start`` on, past articles and the tool's own words:
    "search the web for python" is python, "in the city of london" London."""
    vocabulary = _vocabulary(tool)
    while start < len(words) and (
        words[start].lower in _LEADING or words[start].stem in vocabulary
    ):
        start += 1
    return start


def _whole(
    words: Sequence[_Word], text: str, claimed: set[int], category: str | None
) -> str | None:
    """The reply to a question as the value: "paris please" is Paris."""
    first = next((i for i, w in enumerate(words) if i not in claimed and w.lower not in _STOP), 0)
    return _value(words, text, first, claimed, category, whole=True)


def _value(
    words: Sequence[_Word],
    text: str,
    start: int,
    claimed: set[int],
    category: str | None,
    whole: bool = False,
) -> str | None:
    """The value that starts at ``words[start]``, claiming its words.

    A name is up to three words that are not stop words (capitalised, if its first one
    is); free text runs to the end of the clause (to the end, for a ``whole`` reply) and is
    kept as written.
    """
    topic = category == "topic"
    while start < len(words) and words[start].lower in _ARTICLES:
        start += 1
    taken: list[int] = []
    for index in range(start, len(words)):
        word = words[index]
        if index in claimed:
            break
        if not topic and (word.lower in _STOP or word.lower in _PREPOSITIONS or len(taken) == 3):
            break
        if not topic and taken and words[taken[0]].text[0].isupper() > word.text[0].isupper():
            break  # a capitalised name goes on in capitals: "Bob" in "Bob saying hi"
        taken.append(index)
        if word.clause_end and not whole:
            break
    while taken and words[taken[-1]].lower in _TRAILING:
        taken.pop()
    if not taken:
        return None
    claimed.update(taken)
    if topic:
        return text[words[taken[0]].start : words[taken[-1]].end]
    return " ".join(_capitalised(words[i].text) for i in taken)


def _capitalised(word: str) -> str:
    return word if any(c.isupper() for c in word) else word.capitalize()


def _question(name: str, spec: Mapping[str, Any]) -> str:
    """A short question for a missing parameter: "Which city?", "How many minutes?"."""
    description = str(spec.get("description") or "")
    clause = re.split(r"[,;(:]|\be\.g\.", description)[0].strip().rstrip(".")
    if clause.partition(" ")[0] in ("How", "What", "Which", "Who", "When", "Where"):
        return f"{clause}?"  # "How many people, 1-12.": How many people?
    noun = re.sub(r"^(?:(?:the|a|an|number of)\s+)+", "", clause, flags=re.IGNORECASE)
    if not noun or len(noun.split()) > 4:
        noun = " ".join(word.lower for word in _words(_spaced(name))) or name
    elif not noun.split()[0].isupper():  # keep an acronym: "URL"
        noun = noun[0].lower() + noun[1:]
    if spec.get("enum"):
        values = [str(value) for value in spec["enum"]]
        listed = f"{', '.join(values[:-1])} or {values[-1]}" if len(values) > 1 else values[0]
        return f"Which {noun}: {listed}?"
    match _kind(spec):
        case "integer" | "number":
            return f"How many {noun}?"
        case "boolean" if name.lower() in ("on", "off", "power"):
            return "On or off?"
        case "boolean":
            return f"{noun[0].upper()}{noun[1:]}: yes or no?"
    if noun in _STOP:  # a parameter named "to" or "from"
        return f"{noun.capitalize()} {'whom' if noun in ('to', 'from', 'with') else 'what'}?"
    return f"Which {noun}?"
