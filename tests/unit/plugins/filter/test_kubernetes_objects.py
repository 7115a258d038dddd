"""default_storage_classes and ready_endpoint_addresses: what the roles read from k8s_info's resources."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.kubernetes_objects import (
    default_storage_classes,
    ready_endpoint_addresses,
)

from .role_templating import role_variables, template

DEFAULT = "storageclass.kubernetes.io/is-default-class"
BETA = "storageclass.beta.kubernetes.io/is-default-class"


def storage_class(name, annotations=None):
    return {"metadata": {"name": name, "annotations": annotations}}


def test_classes_marked_default_by_either_annotation_in_any_case():
    classes = [
        storage_class("local-path", {DEFAULT: "true"}),
        storage_class("csi", {BETA: "True"}),
        storage_class("both", {DEFAULT: "true", BETA: "TRUE"}),
        storage_class("not", {DEFAULT: "false", "other": "true"}),
        storage_class("bare"),
        {"metadata": {"name": "no-annotations"}},
    ]
    assert default_storage_classes(classes, [DEFAULT, BETA]) == ["local-path", "csi", "both"]
    assert default_storage_classes(classes, [DEFAULT]) == ["local-path", "both"]


def test_no_classes_no_defaults():
    assert default_storage_classes([], [DEFAULT, BETA]) == []


def endpoint_slice(*endpoints):
    return {"endpoints": list(endpoints)}


def test_ready_addresses_sorted_once():
    slices = [
        endpoint_slice({"addresses": ["10.42.1.5"], "conditions": {"ready": True}}),
        endpoint_slice(
            {"addresses": ["10.42.0.7"], "conditions": {"ready": False}},
            {"addresses": ["10.42.0.9"], "conditions": {"ready": None}},
            {"addresses": ["10.42.1.5"]},
        ),
        {"endpoints": None},
        {},
    ]
    assert ready_endpoint_addresses(slices) == ["10.42.0.9", "10.42.1.5"]


def test_no_slices_no_addresses():
    assert ready_endpoint_addresses([]) == []


@pytest.mark.parametrize(
    "call",
    [lambda: default_storage_classes({"resources": []}, [DEFAULT]), lambda: ready_endpoint_addresses(["x"])],
)
def test_something_else_than_resources_is_refused(call):
    with pytest.raises(AnsibleFilterError, match=r"resources list of kubernetes\.core\.k8s_info"):
        call()


def test_the_local_path_storage_role_reads_the_other_default_classes():
    classes = [
        storage_class("csi", {BETA: "true"}),
        storage_class("local-path", {DEFAULT: "true"}),
        storage_class("nfs"),
    ]
    loader, variables = role_variables(
        "local_path_storage/defaults", "local_path_storage/vars", __local_path_storage_classes={"resources": classes}
    )
    assert template(loader, variables, "{{ _local_path_storage_other_defaults }}") == ["csi"]
    # Before the classes are read (check mode on a fresh cluster): none.
    del variables["__local_path_storage_classes"]
    assert template(loader, variables, "{{ _local_path_storage_other_defaults }}") == []


def test_the_spilo_role_reads_the_primary_services_addresses():
    slices = {
        "resources": [
            endpoint_slice({"addresses": ["10.42.0.9"]}, {"addresses": ["10.42.0.7"], "conditions": {"ready": False}})
        ]
    }
    loader, variables = role_variables("spilo/vars", __spilo_primary_slices=slices)
    assert template(loader, variables, "{{ _spilo_primary_endpoints }}") == ["10.42.0.9"]
