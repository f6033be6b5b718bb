"""The model page's verification-check grades: a read-only table (check, category, grade, the
outcome, the figures behind the grade) and the curators' approval decisions as an inline."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from repository.grades import blocking, check_grades
from repository.models import ApprovalDecision

FIGURE_COMMENT_CHARS = 240


def _link(outcome):
    if outcome is None:
        return "-"
    url = reverse(f"admin:{outcome._meta.app_label}_{outcome._meta.model_name}_change",
                  args=[outcome.pk])
    return format_html('<a href="{}">{}</a>', url, outcome.kim_id)


def _figures(row):
    if not row.figures:
        return getattr(row.outcome, "message", "") or ""
    return format_html_join(
        "", "<div><b>{}</b>: {} — {}</div>",
        ((name, grade, comment[:FIGURE_COMMENT_CHARS]) for name, grade, comment in row.figures))


def grades_table(model):
    rows = check_grades(model)
    if not rows:
        return "no verification checks in the repository"
    body = format_html_join(
        "", '<tr><td>{}</td><td>{}</td><td class="grade-{}"><b>{}</b></td><td>{}</td><td>{}</td></tr>',
        ((row.check.kim_id, row.check.category, "pass" if row.passed else "no-pass", row.grade,
          _link(row.outcome), _figures(row)) for row in rows))
    held = blocking(rows)
    verdict = (format_html("<p><b>Approval needs an override:</b> {}</p>",
                           ", ".join(f"{r.check.name} ({r.grade})" for r in held))
               if held else format_html("<p>{}</p>", "Every mandatory check passed."))
    return format_html(
        '{}<table class="verification-grades"><thead><tr><th>check</th><th>category</th>'
        "<th>grade</th><th>outcome</th><th>figures</th></tr></thead><tbody>{}</tbody></table>",
        verdict, body)


class VerificationGradesMixin:
    """Adds ``verification_grades`` (for readonly_fields) and the decisions inline to a model admin."""

    @admin.display(description="verification checks")
    def verification_grades(self, obj):
        return grades_table(obj) if obj is not None and obj.pk else "-"


class ApprovalDecisionInline(admin.TabularInline):
    model = ApprovalDecision
    extra = 0
    fields = readonly_fields = ("curator", "decided_at", "override", "reason", "grades")
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False  # written by the approval action
