from django.db import migrations

# (code, name, sensitive, default frequency, policy by grade 1/2/3)
TAGS = [
    ("elderly_alone", "独居老人", False, "weekly", {"1": "weekly", "2": "weekly", "3": "monthly"}),
    ("aged_80", "80岁以上老人", False, "monthly", {"1": "weekly", "2": "monthly", "3": "quarterly"}),
    ("disabled", "残疾人", False, "monthly", {"1": "weekly", "2": "monthly", "3": "quarterly"}),
    ("low_income", "低保户", False, "monthly", {"1": "monthly", "2": "monthly", "3": "quarterly"}),
    ("left_behind_child", "留守儿童", False, "monthly", {"1": "weekly", "2": "monthly", "3": "quarterly"}),
    ("community_correction", "社区矫正对象", True, "weekly", {"1": "weekly", "2": "weekly", "3": "monthly"}),
    ("released_prisoner", "刑满释放人员", True, "monthly", {"1": "weekly", "2": "monthly", "3": "quarterly"}),
    ("severe_mental", "严重精神障碍患者", True, "weekly", {"1": "weekly", "2": "monthly", "3": "monthly"}),
    ("petitioner", "信访人员", True, "monthly", {"1": "weekly", "2": "monthly", "3": "quarterly"}),
]


def seed(apps, schema_editor):
    KeyTag = apps.get_model("residents", "KeyTag")
    for sort, (code, name, sensitive, default, policy) in enumerate(TAGS):
        KeyTag.objects.get_or_create(code=code, defaults={"name": name, "sensitive": sensitive, "sort": sort,
                                                          "default_frequency": default, "visit_policy": policy})


class Migration(migrations.Migration):
    dependencies = [("residents", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
