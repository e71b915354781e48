"""A loaded line, ready to answer calls, and the directory that finds a line by number."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.core.menu_file import LineFile, MenuNode, Step
from ivr.core.phone import normalize_called
from ivr.core.prompts import Prompt
from ivr.core.rotation import Rotation
from ivr.core.schedule import Schedule
from ivr.core.yaml_source import Source

# Prompts the service itself says, whatever the menu; every language must define them.
SYSTEM_PROMPTS = (
    "opcion_no_valida",
    "despedida",
    "fuera_de_horario",
    "festivo",
    "horario",
    "nadie_disponible",
    "espera",
    "linea_desconocida",
    "error_tecnico",
    "cerrado_temporalmente",
    "filtro",
    "filtro_caso",
    "mensaje_guardado",
    "mensaje_no_guardado",
    "disculpa_fallo",
    "espera_posicion",
    "espera_lugar",
    "espera_ordinales",
    "espera_minutos",
    "espera_un_minuto",
)

# Prompts of callbacks; required of a language only where a line offers them.
CALLBACK_PROMPTS = (
    "devolucion_oferta", "devolucion_oferta_larga", "devolucion_inicio", "devolucion_confirmar",
    "devolucion_marque_numero", "devolucion_numero_invalido", "devolucion_severidad",
    "devolucion_registrada", "devolucion_caso", "devolucion_cuando", "devolucion_cuando_hoy",
    "devolucion_cuando_manana", "devolucion_cuando_dia", "devolucion_no_registrada",
    "devolucion_no_disponible", "devolucion_pendiente", "devolucion_conservada",
    "devolucion_cancelada",
)

# Prompts of the analysts' number; required of a language only where a line has `analysts:`.
ANALYST_PROMPTS = (
    "analista_codigo", "analista_clave", "analista_incorrecto", "analista_bloqueado",
    "analista_menu", "analista_nadie_espera", "analista_sin_pendientes", "analista_cliente",
    "analista_caso", "analista_gravedad", "analista_pendiente", "analista_llamando",
    "analista_resultado", "analista_resultado_guardado", "analista_no_disponible",
    "analista_no_tomado",
)

# Prompts of the case nodes; required of a language only where a line uses those nodes.
CASE_PROMPTS = (
    "caso_numero",
    "caso_repetir",
    "caso_no_disponible",
    "caso_grabe_descripcion",
    "caso_descripcion_guardada",
    "caso_numero_invalido",
    "caso_no_encontrado",
    "caso_encontrado",
    "caso_consulta_no_disponible",
    "caso_estado_open",
    "caso_estado_in_progress",
    "caso_estado_waiting_customer",
    "caso_estado_closed",
)


@dataclass(frozen=True)
class GatherTiming:
    """How a menu's <Gather> listens: how many keys at most, and how long it waits."""

    num_digits: int
    timeout: int
    pause: int


@dataclass(frozen=True)
class Rescue:
    """What the fallback webhook needs, worked out when the file loads: no file, no database.

    `schedule` is the in-hours node's (None: it is always open).
    """

    in_hours: str
    after_hours: str
    schedule: Schedule | None


@dataclass(frozen=True)
class Line:
    """One line's validated menu, with everything a call needs worked out at load time."""

    spec: LineFile
    file: str
    schedules: Mapping[str, Schedule]
    hours_text: Mapping[str, str]
    prompts: Mapping[str, Prompt]
    parents: Mapping[str, str]
    timing: Mapping[str, GatherTiming]
    rotations: Mapping[str, Rotation]
    chains: Mapping[str, tuple[Step, ...]]
    source: Source
    rescue: Rescue | None = None
    words: Mapping[str, Any] = field(default_factory=dict)  # hours.yaml: times said aloud

    @property
    def id(self) -> str:
        """The line's id, as written in its file and in its webhook URLs."""
        return self.spec.id

    def menu(self, node_id: str) -> MenuNode | None:
        """Return the menu node `node_id`, or None when there is no such menu."""
        node = self.spec.nodes.get(node_id)
        return node if isinstance(node, MenuNode) else None

    def prompt(self, prompt_id: str) -> Prompt:
        """Return a prompt of this line's language (ids are checked when the line loads)."""
        return self.prompts[prompt_id]


@dataclass(frozen=True)
class Directory:
    """Every loaded line, by id and by each number it answers on."""

    lines: Mapping[str, Line]
    by_number: Mapping[str, Line]
    default_line: str | None = None

    def for_number(self, e164: str | None) -> Line | None:
        """Return the line that answers `e164`, else the configured default line, else None."""
        line = self.by_number.get(e164) if e164 else None
        if line is None and self.default_line:
            line = self.lines.get(self.default_line)
        return line

    def for_called(self, called: str | None) -> Line | None:
        """The line for Twilio's `To` (E.164 already, as a rule: parsed only when it is not)."""
        line = self.by_number.get(called) if called else None
        return line if line is not None else self.for_number(normalize_called(called))

    def get(self, line_id: str) -> Line | None:
        """Return the line with id `line_id`, or None."""
        return self.lines.get(line_id)

    def any_line(self) -> Line | None:
        """The default line, else the first loaded one (for messages that belong to no line)."""
        default = self.lines.get(self.default_line or "")
        return default or next(iter(self.lines.values()), None)
