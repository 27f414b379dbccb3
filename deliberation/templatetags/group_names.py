"""How people see a group named: "Group A", "Group B", ... wherever groups are shown.

``group_name`` is both the template filter (``{% load group_names %}``, then
``{{ group_id|group_name }}``) and the function the assistant's texts use, so the groups panel,
the chat, the summaries and the bridging review all say the same. Group ids may arrive as the
string keys of a JSON object (a stored forecast), hence the conversion.
"""

from django import template

from deliberation.selectors.groups import group_label

register = template.Library()


@register.filter
def group_name(group_id: int | str) -> str:
    return f"Group {group_label(int(group_id))}"
