"""Document templates: Jinja HTML filled with a record in a sandbox, and the errors of bad templates.

Templates run in Jinja's sandboxed environment with autoescaping, so neither a template nor
a record value can reach Python internals or inject markup. An undefined variable raises
instead of printing blank (StrictUndefined), and so does a field name the entity does not
have (runtime/printing_views.py). Every error, in the template's syntax or while it runs,
becomes a PrintTemplateError that names the template file and line.

Besides the record, templates get `today` and `printed_at` in the application's time zone,
and the filters `money` (¥123,456.78), `amount` (123,456.78), `date` (2026年12月5日),
`percent` (5.75%) and `rmb_capital` (壹拾贰万叁仟肆佰伍拾陆元柒角捌分). Printed as text,
None is empty, a date is written in Chinese, an enum value is its label and a referenced
record is its title.
"""

from __future__ import annotations

import datetime
import logging
import traceback
from pathlib import Path
from typing import Any, Mapping

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from metamodel import model as m
from runtime.printing_formats import capital_amount, format_amount, format_date, format_money, format_percent
from runtime.printing_views import ChoiceText, RecordView, UnknownField

logger = logging.getLogger(__name__)


class PrintTemplateError(Exception):
    """A print template that cannot be read or filled, with the file and line at fault."""

    def __init__(self, file: str, line: int | None, detail_en: str, detail_zh: str) -> None:
        self.file = file
        self.line = line
        place = f"{file}:{line}" if line is not None else file
        self.message_en = f"The print template {place} failed: {detail_en}"
        self.message_zh = f"打印模板 {place} 出错：{detail_zh}"
        super().__init__(self.message_en)

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_zh


def template_path(template: m.Template) -> Path:
    """Return the HTML file of a document template, which lies beside its YAML file."""
    if template.file is None:
        raise ValueError(f"the template {template.name} has no HTML file")
    return Path(template.source.file).parent / template.file


def _printed(value: Any) -> Any:
    """Turn a value into what `{{ ... }}` prints, before autoescaping."""
    if value is None:
        return ""
    if isinstance(value, ChoiceText):
        return value.label
    if isinstance(value, RecordView):
        return str(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return format_date(value)
    return value


def _environment(folder: Path) -> SandboxedEnvironment:
    environment = SandboxedEnvironment(
        loader=FileSystemLoader(folder),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_printed,
        auto_reload=True,
    )
    environment.filters.update(
        money=format_money, amount=format_amount, date=format_date, percent=format_percent, rmb_capital=capital_amount,
    )
    return environment


class DocumentTemplates:
    """Fills document templates; keeps one Jinja environment per template folder, which caches compiled templates."""

    def __init__(self) -> None:
        self._environments: dict[Path, SandboxedEnvironment] = {}

    def render(self, template: m.Template, context: Mapping[str, Any]) -> str:
        """Return the template's HTML filled with `context`; raise PrintTemplateError naming the file and line."""
        path = template_path(template)
        folder = path.parent.resolve()
        environment = self._environments.get(folder)
        if environment is None:
            environment = self._environments[folder] = _environment(folder)
        shown = str(path)
        try:
            compiled = environment.get_template(path.name)
        except TemplateNotFound:
            raise PrintTemplateError(shown, None, "the file does not exist; create it or correct `file` in the template's YAML",
                                     "文件不存在；请创建该文件，或改正模板 YAML 中的 file") from None
        except TemplateSyntaxError as error:
            raise PrintTemplateError(_shown_file(error.filename, folder, path.parent), error.lineno,
                                     f"syntax error: {error.message}", f"语法错误：{error.message}") from error
        try:
            return compiled.render(context)
        except TemplateSyntaxError as error:
            # A template that this one includes may fail to compile only now.
            raise PrintTemplateError(_shown_file(error.filename, folder, path.parent), error.lineno,
                                     f"syntax error: {error.message}", f"语法错误：{error.message}") from error
        except UnknownField as error:
            file, line = _template_frame(error, folder, path.parent, shown)
            raise PrintTemplateError(file, line, error.message_en, error.message_zh) from error
        except Exception as error:
            # Template code may raise anything (an undefined name, None * 100, a bad filter argument):
            # each is the template's fault, reported at its line.
            file, line = _template_frame(error, folder, path.parent, shown)
            logger.info("print template %s:%s failed: %r", file, line, error)
            raise PrintTemplateError(file, line, f"{type(error).__name__}: {error}", f"{type(error).__name__}：{error}") from error


def _shown_file(filename: str | None, folder: Path, shown_folder: Path) -> str:
    """Return a template file's path as the application names it, relative to where its YAML was loaded from."""
    if not filename:
        return str(shown_folder)
    try:
        return str(shown_folder / Path(filename).resolve().relative_to(folder))
    except ValueError:
        return filename


def _template_frame(error: BaseException, folder: Path, shown_folder: Path, fallback: str) -> tuple[str, int | None]:
    """Return the template file and line where an error was raised, from the traceback Jinja rewrites to template lines."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename.endswith(".html") and Path(frame.filename).resolve().is_relative_to(folder):
            return _shown_file(frame.filename, folder, shown_folder), frame.lineno
    return fallback, None
