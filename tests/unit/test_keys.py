import pytest

from kb.domain import Label, Ref, from_global_id, parse_ref, to_global_id
from kb.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("model:churn@7", None, Ref(Label.MODEL_VERSION, "churn@7")),
        ("model:churn", None, Ref(Label.MODEL, "churn")),
        ("churn@7", "model", Ref(Label.MODEL_VERSION, "churn@7")),
        ("dataset:raw/customers v2@2024-05", None,
         Ref(Label.DATASET_VERSION, "raw/customers v2@2024-05")),
        ("person:alice", None, Ref(Label.PERSON, "alice")),
        ("run:abc@def", None, Ref(Label.RUN, "abc@def")),
        ("customers@2024-05", "dataset", Ref(Label.DATASET_VERSION, "customers@2024-05")),
    ],
)
def test_parse_ref(text, default, expected):
    assert parse_ref(text, default=default) == expected


def test_versioned_ref_parts_split_on_last_at():
    ref = parse_ref("dataset:team@corp/events@2024-05")
    assert (ref.name, ref.version) == ("team@corp/events", "2024-05")


@pytest.mark.parametrize("text", ["", "   ", "widget:x", "churn", "model:churn@"])
def test_parse_ref_refuses_with_field_named(text):
    with pytest.raises(InvalidInput) as err:
        parse_ref(text, field="entity")
    assert err.value.field in {"entity", "key"}


def test_global_ids_round_trip_and_are_opaque():
    gid = to_global_id(Label.MODEL_VERSION, "churn@7")
    assert "churn" not in gid
    assert from_global_id(gid) == Ref(Label.MODEL_VERSION, "churn@7")


@pytest.mark.parametrize(("label", "key", "gid"), [
    (Label.MODEL_VERSION, "churn@7", "TW9kZWxWZXJzaW9uOmNodXJuQDc"),
    # '-' and '_' where standard base64 has '+' and '/', and no '=' padding.
    (Label.DATASET_VERSION, "lake/\u00fc?>>~@2024-05",
     "RGF0YXNldFZlcnNpb246bGFrZS_DvD8-Pn5AMjAyNC0wNQ"),
])
def test_global_ids_keep_their_published_form(label, key, gid):
    # Clients store these ids: the encoding must never change.
    assert to_global_id(label, key) == gid
    assert from_global_id(gid) == Ref(label, key)


@pytest.mark.parametrize("gid", ["", "!!!", "bm9wZQ", to_global_id(Label.RUN, "x")[:-3] + "***"])
def test_malformed_global_ids_are_input_errors(gid):
    with pytest.raises(InvalidInput) as err:
        from_global_id(gid)
    assert err.value.field == "id"


def test_a_mistyped_kind_is_named_not_taken_for_a_name():
    with pytest.raises(InvalidInput) as caught:
        parse_ref("modle:churn", default="model")
    assert caught.value.field == "entity"
    assert "'modle' is not a kind" in caught.value.message
    assert "model:modle:churn" in caught.value.message  # how to name such a model
    assert parse_ref("model:a:b", default="model") == Ref(Label.MODEL, "a:b")
    assert parse_ref("churn", default="model") == Ref(Label.MODEL, "churn")
