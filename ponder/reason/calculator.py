"""Exact arithmetic on numbers as reports write them, for the grounding check and for answers that
compute: "1,496.5 − 1,202.9", "(7.2 − 5.1) / 5.1", "3.5亿 + 2.1亿", "(44.1 + 56.7) / 2".

A small recursive-descent parser over decimal numbers (thousands separators, currency signs, "%",
万 / 亿 / thousand / million / billion), + − × ÷ and parentheses — never Python ``eval``. There
is no power and no name, so nothing a model writes can run code or take long: what is not
arithmetic is refused with the reason, as is division by zero.

Example::

    calculate("(1,496.5 − 1,202.9) / 1,202.9").value     # Decimal('0.2437442846454401862166431125')
    calculate("9**9**9").refusal                          # 'powers are not supported ("**")'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, DivisionByZero, InvalidOperation, localcontext

MAX_CHARS = 400  # an expression longer than this is not one a step of an answer needs
MAX_DEPTH = 32  # nested parentheses: deeper is refused rather than recursed into
SCALE_WORD = r"(?:%|％|亿|万|千|million|billion|thousand)"
NUMBER = rf"[$¥￥€£]?\s*\d[\d,]*(?:\.\d+)?\s*{SCALE_WORD}?"
_TOKEN = re.compile(rf"\s*(?:(?P<number>{NUMBER})|(?P<op>[+\-−–*×x/÷()（）]))", re.IGNORECASE)
_WRITTEN = re.compile(rf"\s*([-−–])?\s*[$¥￥€£]?\s*(\d[\d,]*(?:\.\d+)?)\s*({SCALE_WORD})?\s*", re.IGNORECASE)
_SCALE = {"%": Decimal("0.01"), "％": Decimal("0.01"), "亿": Decimal(10) ** 8, "万": Decimal(10) ** 4,
          "千": Decimal(1000), "thousand": Decimal(1000), "million": Decimal(10) ** 6, "billion": Decimal(10) ** 9}


@dataclass(frozen=True)
class Calculation:
    """An expression and its exact value, or why it has none (``refusal``)."""

    expression: str
    value: Decimal | None
    operands: tuple[Decimal, ...] = ()
    refusal: str = ""

    @property
    def ok(self) -> bool:
        return self.value is not None


def calculate(expression: str) -> Calculation:
    """The exact value of ``expression`` (28 significant digits), or a refusal naming what is wrong."""
    expression = expression.strip()
    if not expression:
        return Calculation(expression, None, refusal="empty expression")
    if len(expression) > MAX_CHARS:
        return Calculation(expression, None, refusal=f"longer than {MAX_CHARS} characters")
    if "**" in expression or "^" in expression:
        return Calculation(expression, None, refusal='powers are not supported ("**")')
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            rest = expression[position:].strip()
            if not rest:
                break
            word = re.match(r"[A-Za-z_]\w*", rest)
            what = f"names are not allowed ({word.group()!r})" if word else f"unexpected {rest[:12]!r}"
            return Calculation(expression, None, refusal=what)
        tokens.append(("number", match.group("number")) if match.group("number") else ("op", match.group("op")))
        position = match.end()
    parser = _Parser(tokens)
    with localcontext() as context:
        context.prec = 28
        context.traps[DivisionByZero] = context.traps[InvalidOperation] = True  # 0 / 0 is InvalidOperation
        try:
            value = parser.expression(0)
            if parser.index != len(tokens):
                raise ValueError(f"unexpected {tokens[parser.index][1]!r}")
        except (DivisionByZero, InvalidOperation):
            return Calculation(expression, None, tuple(parser.operands), refusal="division by zero")
        except ValueError as error:
            return Calculation(expression, None, tuple(parser.operands), refusal=str(error))
    return Calculation(expression, value, tuple(parser.operands))


def decimal_of(written: str, keep_percent: bool = False) -> Decimal | None:
    """"$1,496.5" -> 1496.5; "3.5亿" -> 350000000; "12%" -> 0.12 (12 with ``keep_percent``)."""
    match = _WRITTEN.fullmatch(written)
    if match is None:
        return None
    value = Decimal(match.group(2).replace(",", ""))
    scale = (match.group(3) or "").lower()
    if scale and not (keep_percent and scale in ("%", "％")):
        value *= _SCALE[scale]
    return -value if match.group(1) else value


def written(value: Decimal, decimals: int = 2) -> str:
    """``value`` rounded to ``decimals`` places, trailing zeros dropped, thousands separated:
    Decimal('293.60') -> '293.6', Decimal('-1234.5678') -> '-1,234.57'."""
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class _Parser:
    """expression := term (("+" | "−") term)*; term := unary (("×" | "÷") unary)*;
    unary := "−" unary | "(" expression ")" | number."""

    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens = tokens
        self.index = 0
        self.operands: list[Decimal] = []

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.index >= len(self.tokens):
            raise ValueError("the expression ends early")
        self.index += 1
        return self.tokens[self.index - 1]

    def expression(self, depth: int) -> Decimal:
        value = self.term(depth)
        while (token := self.peek()) is not None and token[0] == "op" and token[1] in "+-−–":
            operator = self.take()[1]
            right = self.term(depth)
            value = value + right if operator == "+" else value - right
        return value

    def term(self, depth: int) -> Decimal:
        value = self.unary(depth)
        while (token := self.peek()) is not None and token[0] == "op" and token[1] in "*×x/÷":
            operator = self.take()[1]
            right = self.unary(depth)
            value = value * right if operator in "*×x" else value / right
        return value

    def unary(self, depth: int) -> Decimal:
        if depth > MAX_DEPTH:
            raise ValueError(f"parentheses nested deeper than {MAX_DEPTH}")
        kind, text = self.take()
        if kind == "op" and text in "-−–":
            return -self.unary(depth + 1)
        if kind == "op" and text in "(（":
            value = self.expression(depth + 1)
            if self.peek() is None or self.take()[1] not in ")）":
                raise ValueError("unclosed parenthesis")
            return value
        if kind != "number":
            raise ValueError(f"unexpected {text!r}")
        number = decimal_of(text)
        if number is None:
            raise ValueError(f"not a number: {text!r}")
        self.operands.append(number)
        return number
