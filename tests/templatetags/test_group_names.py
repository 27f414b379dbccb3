import pytest
from django.template import Context, Template

from deliberation.templatetags.group_names import group_name


@pytest.mark.parametrize(("group_id", "name"), [(0, "Group A"), (1, "Group B"), ("2", "Group C")])
def test_groups_are_named_with_letters(group_id: int | str, name: str) -> None:
    assert group_name(group_id) == name


def test_the_filter_names_a_forecasts_string_keys() -> None:
    template = Template(
        "{% load group_names %}"
        "{% for group, p in forecast.items %}{{ group|group_name }} {% endfor %}"
    )

    assert template.render(Context({"forecast": {"0": 0.6, "1": 0.7}})) == "Group A Group B "
