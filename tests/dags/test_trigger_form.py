"""Every DAG's trigger form in the UI can be submitted with its defaults, and the run it asks for is valid.

The params are taken as the UI gets them: the DAG serialized (as the dag-processor stores it) and read back as the
API server does (``SerializedParamsDict``, each param dumped), then validated as the trigger endpoint validates a
run's conf.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import trigger_form

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def served_dags():
    """Each DAG as the API server sees it: serialized, then deserialized."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    dagbag = DagBag(dag_folder=str(DAGS_DIR))
    assert dagbag.import_errors == {}
    return {dag_id: DagSerialization.from_dict(DagSerialization.to_dict(dag)) for dag_id, dag in dagbag.dags.items()}


def _form_params(dag) -> dict:
    """The ``params`` of ``GET /api/v2/dags/{dag_id}/details`` (DAGDetailsResponse.get_params)."""
    return {name: param.dump() for name, param in dag.params.items()}


def test_every_trigger_form_is_submittable_with_its_defaults(served_dags):
    blocked = {dag_id: trigger_form(_form_params(dag))[1] for dag_id, dag in served_dags.items()}
    assert {dag_id: names for dag_id, names in blocked.items() if names} == {}, (
        "params the form treats as required but leaves empty: give them type ['null', ...] and default None"
    )


def test_the_conf_the_form_sends_is_valid_for_the_trigger_endpoint(served_dags):
    for dag in served_dags.values():
        conf, _ = trigger_form(_form_params(dag))
        dag.params.deep_merge(conf).validate()  # what create_dagrun does; raises ParamValidationError


def test_optional_params_allow_null(served_dags):
    """An optional param (default None) stays submittable when the user clears it: its type allows null."""
    for dag_id, dag in served_dags.items():
        for name, param in dag.params.items():
            if param.value is None:
                kind = param.schema.get("type")
                assert isinstance(kind, list) and "null" in kind, f"{dag_id}.{name}: type {kind!r} refuses null"
                dag.params.deep_merge({name: None}).validate()
