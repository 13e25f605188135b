"""A CPU estimate of a SCAD program, computed before it is rendered (`OPENSCAD_MAX_COST`).

The unit is one polygon face of the final geometry, weighted by the work OpenSCAD does on it:

- a primitive is its faces: `sphere` fragments × ⌈fragments / 2⌉, `cylinder` fragments + 2,
  `circle` fragments, `cube` 6, `square` 4, `polygon`/`polyhedron` the length of their literal
  point/face list; fragments are `$fn` when set, else ⌈360 / `$fa`⌉ (at least 5): the most
  OpenSCAD can make of any radius, because the radius is not evaluated here;
- `rotate_extrude` multiplies its children by the fragments, `linear_extrude` by `slices`
  (by the fragments when it twists without a literal `slices`);
- a `for` (or `intersection_for`, or a list comprehension) multiplies its body by its iteration
  count: literal ranges `[a:b]` and `[a:s:b]`, literal lists, and names assigned at the top
  level from such literals (with `+ - * / %`, `min`, `max`, `abs`, `floor`, `ceil`, `round`,
  `sqrt`, `len`). Several loop variables multiply. A bound that cannot be evaluated before
  running (a module parameter, a function's result) counts as `UNKNOWN_COUNT` iterations, and
  a recursive module as `UNKNOWN_COUNT` repetitions of its body: programs that scale with such
  a value pass when it is small and are refused when nested, rather than assumed cheap;
- as soon as the model has two or more shapes, every face goes through CGAL's boolean
  operations (an implicit union at least), measured at about a hundred times the cost of a
  lone primitive: each face then weighs `CSG_WEIGHT`; faces under `minkowski` weigh
  `MINKOWSKI_WEIGHT`;
- of `if`/`else` the costlier branch counts.

It is an estimate meant to refuse what would surely exhaust the sandbox's time or memory limit
(those still bound whatever it misjudges): on OpenSCAD 2021.01 on the development machine a
budget of 100 000 is about 15 s of CPU for overlapping unions.
"""

import math
import re
from dataclasses import dataclass, field

UNKNOWN_COUNT = 100
CSG_WEIGHT = 10
MINKOWSKI_WEIGHT = 20
DEFAULT_FA = 12.0
MAX_VALUE = 1e18

TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>\$?[A-Za-z_]\w*)|(?P<string>\"\")"
    r"|(?P<op><=|>=|==|!=|&&|\|\||[-+*/%^!<>=?:,;.(){}\[\]#])|(?P<other>\S))"
)


class ScadSyntax(ValueError):
    """The estimator could not follow the program (OpenSCAD will say why when it runs)."""


def tokenize(code: str) -> list[str]:
    """Every non-blank piece of the program; a character OpenSCAD has no use for is a token of
    its own, which the parser then refuses (and the flat estimate takes over)."""
    tokens, position = [], 0
    while position < len(code):
        match = TOKEN.match(code, position)
        if match is None:  # only blanks are left
            break
        position = match.end()
        tokens.append(match.group(match.lastgroup))
    return tokens


# --- expressions: a tiny evaluator for what can be known before running --------------------


@dataclass(frozen=True)
class Range:
    start: float
    step: float
    end: float

    def count(self) -> float:
        """Values the range takes; a step of 0 or an infinite bound counts as endless."""
        if self.step == 0 or not all(map(math.isfinite, (self.start, self.step, self.end))):
            return math.inf
        return math.floor(abs(self.end - self.start) / abs(self.step) + 1e-9) + 1


class Unknown(Exception):
    """The value depends on something only known when the program runs."""


BUILTINS = {
    "max": lambda *a: max(a[0]) if len(a) == 1 and isinstance(a[0], list) else max(a),
    "min": lambda *a: min(a[0]) if len(a) == 1 and isinstance(a[0], list) else min(a),
    "abs": abs, "floor": math.floor, "ceil": math.ceil, "round": round, "sqrt": math.sqrt,
    "len": lambda value: len(value) if isinstance(value, list) else value.count(),
}


class Expression:
    """Evaluates a token span with `env`; raises Unknown for anything it cannot know."""

    def __init__(self, tokens: list[str], env: dict):
        self.tokens, self.env, self.i = tokens, env, 0

    def value(self):
        if not self.tokens:
            raise Unknown()
        result = self._sum()
        if self.i != len(self.tokens):
            raise Unknown()
        return result

    def _peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self, expected=None):
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            raise Unknown()
        self.i += 1
        return token

    def _number(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise Unknown()
        return value

    def _sum(self):
        value = self._product()
        while self._peek() in ("+", "-"):
            op = self._take()
            right = self._product()
            value = self._number(value) + self._number(right) if op == "+" else self._number(value) - self._number(right)
        return value

    def _product(self):
        value = self._unary()
        while self._peek() in ("*", "/", "%"):
            op, right = self._take(), self._unary()
            left, right = self._number(value), self._number(right)
            if op == "*":
                value = left * right
            elif right == 0:  # OpenSCAD's x / 0 is ±inf (a range to it is endless); 0 / 0 and x % 0 are nan
                if op == "%" or left == 0:
                    raise Unknown()
                value = math.copysign(math.inf, left)
            else:
                value = left / right if op == "/" else math.fmod(left, right)
        return value

    def _unary(self):
        if self._peek() == "-":
            self._take()
            return -self._number(self._unary())
        if self._peek() == "+":
            self._take()
            return self._number(self._unary())
        return self._atom()

    def _atom(self):
        token = self._take()
        if token == "(":
            value = self._sum()
            self._take(")")
            return value
        if token == "[":
            return self._list()
        if token[0].isdigit() or token[0] == ".":
            return self._number(float(token))
        if token[0].isalpha() or token[0] in "_$":
            if self._peek() == "(":
                function = BUILTINS.get(token)
                if function is None:
                    raise Unknown()
                self._take("(")
                args = []
                while self._peek() != ")":
                    args.append(self._sum())
                    if self._peek() == ",":
                        self._take()
                self._take(")")
                try:
                    return function(*args)
                except (TypeError, ValueError, AttributeError, OverflowError):
                    raise Unknown()
            if token not in self.env:
                raise Unknown()
            return self.env[token]
        raise Unknown()

    def _list(self):
        if self._peek() == "]":
            self._take()
            return []
        first = self._sum()
        if self._peek() == ":":
            self._take()
            second = self._sum()
            if self._peek() == ":":
                self._take()
                third = self._sum()
                self._take("]")
                return Range(self._number(first), self._number(second), self._number(third))
            self._take("]")
            return Range(self._number(first), 1.0, self._number(second))
        items = [first]
        while self._peek() == ",":
            self._take()
            items.append(self._sum())
        self._take("]")
        return items


def evaluate(tokens: list[str], env: dict):
    try:
        return Expression(tokens, env).value()
    except (Unknown, RecursionError):
        return None


def iterations(tokens: list[str], env: dict) -> float:
    """How many values a loop variable takes: a range's count, a list's length, else unknown."""
    value = evaluate(tokens, env)
    if isinstance(value, Range):
        return value.count()
    if isinstance(value, list):
        return len(value)
    if isinstance(value, (int, float)):
        return 1
    return UNKNOWN_COUNT


# --- statements ---------------------------------------------------------------------------


@dataclass
class Arg:
    name: str | None
    tokens: list[str]


@dataclass
class Node:
    kind: str  # "block" | "call" | "if" | "assign"
    name: str = ""
    args: list[Arg] = field(default_factory=list)
    children: list["Node"] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)  # an assignment's value


@dataclass
class Module:
    params: list[str]
    body: Node


def _split_args(tokens: list[str]) -> list[Arg]:
    args, depth, current = [], 0, []
    for token in [*tokens, ","]:
        if token in "([{":
            depth += 1
        elif token in ")]}":
            depth -= 1
        if token == "," and depth == 0:
            if current:
                named = len(current) > 2 and _is_name(current[0]) and current[1] == "="
                args.append(Arg(current[0], current[2:]) if named else Arg(None, current))
            current = []
        else:
            current.append(token)
    return args


def _is_name(token: str) -> bool:
    return bool(token) and (token[0].isalpha() or token[0] in "_$")


class Parser:
    def __init__(self, tokens: list[str]):
        self.tokens, self.i = tokens, 0
        self.modules: dict[str, Module] = {}

    def _peek(self, offset=0):
        index = self.i + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def _take(self, expected=None):
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            raise ScadSyntax(f"Expected {expected or 'more'} at token {self.i}.")
        self.i += 1
        return token

    def _balanced(self, opening: str, closing: str) -> list[str]:
        """The tokens between `opening` (next) and its matching `closing`."""
        self._take(opening)
        depth, start = 1, self.i
        while depth:
            token = self._take()
            if token in "([{":
                depth += 1
            elif token in ")]}":
                depth -= 1
        return self.tokens[start:self.i - 1]

    def _until_semicolon(self) -> list[str]:
        depth, start = 0, self.i
        while True:
            token = self._take()
            if token in "([{":
                depth += 1
            elif token in ")]}":
                depth -= 1
            elif token == ";" and depth == 0:
                return self.tokens[start:self.i - 1]

    def program(self) -> Node:
        children = []
        while self._peek() is not None:
            children.append(self.statement())
        return Node("block", children=children)

    def statement(self) -> Node:
        token = self._peek()
        if token == ";":
            self._take()
            return Node("block")
        if token == "{":
            self._take()
            children = []
            while self._peek() != "}":
                if self._peek() is None:
                    raise ScadSyntax("Unclosed {.")
                children.append(self.statement())
            self._take("}")
            return Node("block", children=children)
        if token in ("!", "#", "%", "*"):
            self._take()
            return self.statement()
        if token == "module":
            self._take()
            name = self._take()
            params = [arg.name or (arg.tokens[0] if arg.tokens else "") for arg in _split_args(self._balanced("(", ")"))]
            self.modules[name] = Module(params=params, body=self.statement())
            return Node("block")
        if token == "function":
            self._until_semicolon()
            return Node("block")
        if token == "if":
            self._take()
            condition = self._balanced("(", ")")
            then = self.statement()
            otherwise = None
            if self._peek() == "else":
                self._take()
                otherwise = self.statement()
            return Node("if", tokens=condition, children=[then, otherwise or Node("block")])
        if _is_name(token) and self._peek(1) == "=":
            self._take()
            self._take("=")
            return Node("assign", name=token, tokens=self._until_semicolon())
        if _is_name(token) and self._peek(1) == "(":
            self._take()
            args = _split_args(self._balanced("(", ")"))
            child = self.statement() if self._peek() not in (None, "}") else Node("block")
            return Node("call", name=token, args=args, children=[child])
        raise ScadSyntax(f"Unexpected {token!r} at token {self.i}.")


# --- cost ---------------------------------------------------------------------------------


@dataclass
class Cost:
    faces: float = 0.0  # plain faces (weighed CSG_WEIGHT once the model has two shapes)
    minkowski_faces: float = 0.0
    shapes: float = 0.0  # primitive instances

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.faces + other.faces, self.minkowski_faces + other.minkowski_faces, self.shapes + other.shapes)

    def scaled(self, factor: float, shapes: bool = True) -> "Cost":
        return Cost(self.faces * factor, self.minkowski_faces * factor, self.shapes * (factor if shapes else 1))

    def total(self) -> float:
        weight = CSG_WEIGHT if self.shapes > 1 or self.minkowski_faces else 1
        return self.faces * weight + self.minkowski_faces * MINKOWSKI_WEIGHT


@dataclass
class Scope:
    env: dict  # names with a value known before running
    specials: dict  # $fn, $fa in effect
    children: Cost  # what `children()` stands for inside a module


PRIMITIVE_FACES = {"cube": lambda f: 6, "square": lambda f: 4, "circle": lambda f: f,
                   "cylinder": lambda f: f + 2, "sphere": lambda f: f * math.ceil(f / 2)}
LOOPS = {"for", "intersection_for"}
LITERAL_LIST_SHAPES = {"polygon", "polyhedron"}


class TooComplex(Exception):
    """More statements to visit than STEP_LIMIT (module calls fan out exponentially)."""


STEP_LIMIT = 100_000


class Estimator:
    def __init__(self, modules: dict[str, Module]):
        self.modules = modules
        self.calling: list[str] = []
        self.recursive: set[str] = set()
        self.steps = 0

    def fragments(self, specials: dict) -> float:
        fn = specials.get("$fn") or 0
        if fn > 0:
            return max(math.floor(fn), 3)
        fa = specials.get("$fa") or DEFAULT_FA
        return max(math.ceil(360 / max(fa, 0.01)), 5)

    def comprehension(self, tokens: list[str], env: dict) -> Cost:
        """List comprehensions in an expression: their loops' counts multiplied (as if nested)."""
        total, found = 1.0, False
        for index, token in enumerate(tokens):
            if token == "for" and index + 1 < len(tokens) and tokens[index + 1] == "(":
                found = True
                try:
                    inner = Parser(tokens[index + 1:])._balanced("(", ")")
                except ScadSyntax:
                    total *= UNKNOWN_COUNT
                    continue
                for arg in _split_args(inner):
                    total *= iterations(arg.tokens, env)
        return Cost(faces=min(total, MAX_VALUE)) if found else Cost()

    def specials_of(self, args: list[Arg], scope: Scope) -> dict:
        specials = dict(scope.specials)
        for arg in args:
            if arg.name in ("$fn", "$fa"):
                value = evaluate(arg.tokens, scope.env)
                specials[arg.name] = value if isinstance(value, (int, float)) else specials.get(arg.name)
        return specials

    def block(self, nodes: list[Node], scope: Scope) -> Cost:
        # Assignments hold for the whole block in OpenSCAD (the last one wins), so read them first.
        env, specials = dict(scope.env), dict(scope.specials)
        cost = Cost()
        for node in nodes:
            if node.kind == "assign":
                value = evaluate(node.tokens, scope.env | env)
                if node.name in ("$fn", "$fa"):
                    if isinstance(value, (int, float)):
                        specials[node.name] = value
                elif value is None:
                    env.pop(node.name, None)
                else:
                    env[node.name] = value
                cost += self.comprehension(node.tokens, env)
        inner = Scope(env=env, specials=specials, children=scope.children)
        for node in nodes:
            if node.kind != "assign":
                cost += self.node(node, inner)
        return cost

    def node(self, node: Node, scope: Scope) -> Cost:
        self.steps += 1
        if self.steps > STEP_LIMIT:
            raise TooComplex()
        if node.kind == "block":
            return self.block(node.children, scope)
        if node.kind == "if":
            branches = [self.node(child, scope) for child in node.children]
            return max(branches, key=Cost.total)
        if node.kind == "assign":
            return self.comprehension(node.tokens, scope.env)
        return self.call(node, scope)

    def call(self, node: Node, scope: Scope) -> Cost:
        name, args = node.name, node.args
        specials = self.specials_of(args, scope)
        expressions = Cost()
        for arg in args:
            expressions += self.comprehension(arg.tokens, scope.env)
        child_scope = Scope(env=scope.env, specials=specials, children=scope.children)
        if name in LOOPS:
            count, env = 1.0, dict(scope.env)
            for arg in args:
                count *= iterations(arg.tokens, scope.env)
                if arg.name:
                    env.pop(arg.name, None)  # the loop variable is not a known constant
            body = self.node(node.children[0], Scope(env=env, specials=specials, children=scope.children))
            return body.scaled(min(count, MAX_VALUE)) + expressions
        if name == "let":
            env = dict(scope.env)
            for arg in args:
                if arg.name:
                    value = evaluate(arg.tokens, env)
                    if value is None:
                        env.pop(arg.name, None)
                    else:
                        env[arg.name] = value
            return self.node(node.children[0], Scope(env=env, specials=specials, children=scope.children)) + expressions
        children = self.node(node.children[0], child_scope)
        if name in PRIMITIVE_FACES:
            return Cost(faces=PRIMITIVE_FACES[name](self.fragments(specials)), shapes=1) + children + expressions
        if name in LITERAL_LIST_SHAPES:
            points = evaluate(args[0].tokens, scope.env) if args else None
            faces = len(points) if isinstance(points, list) else UNKNOWN_COUNT
            return Cost(faces=max(faces, 1), shapes=1) + expressions
        if name == "text":
            return Cost(faces=UNKNOWN_COUNT, shapes=1) + expressions
        if name == "rotate_extrude":
            return children.scaled(self.fragments(specials), shapes=False) + expressions
        if name == "linear_extrude":
            named = {arg.name: arg.tokens for arg in args if arg.name}
            slices = evaluate(named["slices"], scope.env) if "slices" in named else None
            if not isinstance(slices, (int, float)):
                slices = self.fragments(specials) if "twist" in named else 1
            return children.scaled(max(slices, 1), shapes=False) + expressions
        if name == "minkowski":
            return Cost(minkowski_faces=children.faces + children.minkowski_faces, shapes=max(children.shapes, 2)) + expressions
        if name == "children":
            return scope.children + expressions
        module = self.modules.get(name)
        if module is None:  # a transform, a boolean, color, echo…: its children
            return children + expressions
        if name in self.calling:
            self.recursive.add(name)
            return expressions
        self.calling.append(name)
        try:
            env = {key: value for key, value in scope.env.items() if key not in module.params}
            body = self.node(module.body, Scope(env=env, specials=specials, children=children))
        finally:
            self.calling.pop()
        if name in self.recursive:
            body = body.scaled(UNKNOWN_COUNT)
        return body + expressions


def _flat_estimate(tokens: list[str]) -> float:
    """For a program the parser cannot follow: every loop nested around every shape, each
    shape at the finest resolution allowed ($fa = 1)."""
    loops, faces = 1.0, 0.0
    for index, token in enumerate(tokens):
        if token in LOOPS and index + 1 < len(tokens) and tokens[index + 1] == "(":
            try:
                spec = Parser(tokens[index + 1:])._balanced("(", ")")
            except ScadSyntax:
                loops *= UNKNOWN_COUNT
                continue
            for arg in _split_args(spec):
                loops *= iterations(arg.tokens, {})
        elif token in PRIMITIVE_FACES:
            faces += PRIMITIVE_FACES[token](360)
    return min(loops * max(faces, 1) * CSG_WEIGHT, MAX_VALUE)


def scad_cost_estimate(code: str) -> int:
    """The estimate for a program with comments removed and strings emptied (`scad_code_only`)."""
    tokens = tokenize(code)
    try:
        parser = Parser(tokens)
        tree = parser.program()
    except (ScadSyntax, RecursionError):
        return int(_flat_estimate(tokens))
    try:
        estimator = Estimator(parser.modules)
        total = estimator.node(tree, Scope(env={}, specials={"$fn": 0, "$fa": DEFAULT_FA}, children=Cost())).total()
    except (TooComplex, RecursionError):
        total = MAX_VALUE  # modules calling modules beyond what can be followed: as costly as it gets
    return int(min(total, MAX_VALUE))
