"""The dataset endpoints' part of the OpenAPI document (``api/datasets.py``,
``api/dataset_fetch.py``); the shapes are :mod:`heliograph.api.dataset_json`'s."""

from __future__ import annotations

from typing import Any

__all__ = ["DATASET_SCHEMAS", "dataset_paths"]

_ERROR = {"$ref": "#/components/schemas/Error"}
_DATASET = {"$ref": "#/components/schemas/Dataset"}
_ITEM = {"$ref": "#/components/schemas/DatasetItem"}
_RUN = {"$ref": "#/components/schemas/DatasetRun"}
_OBJECT: dict[str, Any] = {"type": "object"}
_REASONS = {
    400: "Bad request: detail says what is wrong (for a file, the line)",
    401: "Authentication required",
    403: "Forbidden: the token lacks the scope, the role does not allow it, or AI is disabled",
    404: "No such project, dataset, item, run or prompt version",
    409: "A run of that name exists, or no AI provider is configured",
    413: "The file is too large",
}
_BASIC: list[dict[str, list[str]]] = [{"basic": []}]


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {
            "description": _REASONS[status],
            "content": {"application/json": {"schema": _ERROR}},
        }
        for status in statuses
    }


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, kind: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": kind}, "description": description}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _list(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"results": {"type": "array", "items": schema}}}


_PROJECT = [_path("organization_slug"), _path("project_slug")]
_ONE = [*_PROJECT, _path("dataset_name")]
_NEW_DATASET = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "metadata": _OBJECT,
    },
}
_NEW_ITEM = {
    "type": "object",
    "required": ["input"],
    "properties": {
        "id": {"type": "string"},
        "input": {},
        "expectedOutput": {},
        "metadata": _OBJECT,
        "sourceTraceId": {"type": "string"},
        "sourceObservationId": {"type": "string"},
        "status": {"type": "string", "enum": ["ACTIVE", "ARCHIVED", "active", "archived"]},
    },
}
_ADD_ITEMS = {
    "type": "object",
    "description": "items to add (or replace by id), or recorded calls to make items of",
    "properties": {
        "items": {"type": "array", "items": _NEW_ITEM},
        "generations": {"type": "array", "items": {"type": "string"}},
        "traces": {"type": "array", "items": {"type": "string"}},
    },
}
_NEW_RUN = {
    "type": "object",
    "required": ["name", "promptName"],
    "properties": {
        "name": {"type": "string"},
        "promptName": {"type": "string"},
        "promptVersion": {"type": "integer"},
        "promptLabel": {"type": "string"},
        "maxConcurrency": {"type": "integer", "minimum": 1, "maximum": 4},
        "costCapUsd": {"type": "number"},
        "maxItems": {"type": "integer"},
        "description": {"type": "string"},
        "metadata": _OBJECT,
    },
}
_RUN_ITEM_BODY = {
    "type": "object",
    "required": ["runName", "datasetItemId", "traceId"],
    "properties": {
        "runName": {"type": "string"},
        "runDescription": {"type": "string"},
        "metadata": _OBJECT,
        "datasetName": {"type": "string"},
        "datasetItemId": {"type": "string"},
        "traceId": {"type": "string"},
        "observationId": {"type": "string"},
        "output": {},
        "error": {"type": "string"},
        "latencySeconds": {"type": "number"},
    },
}
_ADDED = {
    "type": "object",
    "properties": {"added": {"type": "integer"}, "updated": {"type": "integer"}},
}

DATASET_SCHEMAS: dict[str, Any] = {
    "Dataset": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "metadata": _OBJECT,
            "items": {"type": "integer"},
            "runs": {"type": "integer"},
            "createdAt": {"type": "string", "format": "date-time"},
            "updatedAt": {"type": "string", "format": "date-time"},
        },
    },
    "DatasetItem": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "datasetName": {"type": "string"},
            "input": {},
            "expectedOutput": {},
            "metadata": _OBJECT,
            "sourceTraceId": {"type": ["string", "null"]},
            "sourceObservationId": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": ["ACTIVE", "ARCHIVED"]},
        },
    },
    "DatasetRun": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["prompt", "sdk"]},
            "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
            "promptName": {"type": ["string", "null"]},
            "promptVersion": {"type": ["integer", "null"]},
            "error": {"type": ["string", "null"]},
            "costUsd": {"type": "number"},
            "items": {"type": "integer"},
        },
    },
}


def dataset_paths() -> dict[str, Any]:
    base = "/api/0/projects/{organization_slug}/{project_slug}/llm/datasets"
    one = f"{base}/{{dataset_name}}"
    read = _errors(400, 401, 403, 404)
    write = _errors(400, 401, 403, 404)
    return {
        f"{base}/": {
            "get": {
                "summary": "A project's datasets, with their item and run counts",
                "parameters": _PROJECT,
                "responses": {"200": _ok(_list(_DATASET)), **_errors(401, 403, 404)},
            },
            "post": {
                "summary": "Create a dataset, or update its description (write scope)",
                "parameters": _PROJECT,
                "requestBody": _body(_NEW_DATASET),
                "responses": {"201": _ok(_DATASET, "Saved"), **write},
            },
        },
        f"{one}/": {
            "get": {
                "summary": "A dataset and its runs",
                "parameters": _ONE,
                "responses": {"200": _ok(_DATASET), **read},
            },
            "delete": {
                "summary": "Delete a dataset, its items and runs (write scope)",
                "parameters": _ONE,
                "responses": {"204": {"description": "Deleted"}, **write},
            },
        },
        f"{one}/items/": {
            "get": {
                "summary": "A page of the dataset's items, oldest first",
                "parameters": [
                    *_ONE,
                    _query("status", "string", "active or archived"),
                    _query("limit", "integer", "1 to 100"),
                    _query("cursor", "string", "the Link header's next cursor"),
                ],
                "responses": {"200": _ok(_list(_ITEM)), **read},
            },
            "post": {
                "summary": "Add items, or make items of recorded generations or traces",
                "parameters": _ONE,
                "requestBody": _body(_ADD_ITEMS),
                "responses": {"201": _ok(_ADDED, "Added"), "200": _ok(_ADDED), **write},
            },
        },
        f"{one}/import/": {
            "post": {
                "summary": "Import items from a JSONL or CSV file (at most 5 MiB)",
                "parameters": [*_ONE, _query("format", "string", "jsonl or csv")],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-ndjson": {"schema": {"type": "string"}},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                "responses": {"201": _ok(_ADDED, "Imported"), **write, **_errors(413)},
            }
        },
        f"{one}/items/{{item_id}}/": {
            "get": {
                "summary": "One item",
                "parameters": [*_ONE, _path("item_id")],
                "responses": {"200": _ok(_ITEM), **read},
            },
            "patch": {
                "summary": "Change an item's input, expected output, metadata or status",
                "parameters": [*_ONE, _path("item_id")],
                "requestBody": _body(_NEW_ITEM),
                "responses": {"200": _ok(_ITEM), **write},
            },
            "delete": {
                "summary": "Delete an item (runs keep their results for it)",
                "parameters": [*_ONE, _path("item_id")],
                "responses": {"204": {"description": "Deleted"}, **write},
            },
        },
        f"{one}/runs/": {
            "get": {
                "summary": "The dataset's runs, newest first",
                "parameters": _ONE,
                "responses": {"200": _ok(_list(_RUN)), **read},
            },
            "post": {
                "summary": "Run a prompt version over the dataset on the server (queued)",
                "parameters": _ONE,
                "requestBody": _body(_NEW_RUN),
                "responses": {"202": _ok(_RUN, "Queued"), **write, **_errors(409)},
            },
        },
        f"{one}/runs/{{run_name}}/": {
            "get": {
                "summary": "A run and what it did with each item",
                "parameters": [*_ONE, _path("run_name")],
                "responses": {"200": _ok(_RUN), **read},
            },
            "delete": {
                "summary": "Delete a run (its traces and scores stay)",
                "parameters": [*_ONE, _path("run_name")],
                "responses": {"204": {"description": "Deleted"}, **write},
            },
        },
        f"{one}/compare/": {
            "get": {
                "summary": "Runs side by side, item by item, with aggregate rows",
                "parameters": [
                    *_ONE,
                    {
                        "name": "runs",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "string"}},
                        "description": "run names (repeated, or comma-separated); default: "
                        "the two newest",
                    },
                ],
                "responses": {"200": _ok(_OBJECT), **read},
            }
        },
        **_public_paths(),
    }


def _public_paths() -> dict[str, Any]:
    write = _errors(400, 401, 403, 404)
    create = {
        "post": {
            "summary": "Create or update a dataset, as Langfuse's SDKs do (Basic auth)",
            "security": _BASIC,
            "requestBody": _body(_NEW_DATASET),
            "responses": {"200": _ok(_DATASET), **write},
        }
    }
    fetch = {
        "get": {
            "summary": "A dataset, for an SDK (Basic: project key, API token)",
            "security": _BASIC,
            "parameters": [_path("dataset_name")],
            "responses": {"200": _ok(_DATASET), **write},
        }
    }
    return {
        "/api/public/datasets": create,
        "/api/public/v2/datasets": create,
        "/api/public/datasets/{dataset_name}": fetch,
        "/api/public/v2/datasets/{dataset_name}": fetch,
        "/api/public/dataset-items": {
            "get": {
                "summary": "A page of a dataset's active items, for an SDK",
                "security": _BASIC,
                "parameters": [
                    {**_query("datasetName", "string", "the dataset"), "required": True},
                    _query("page", "integer", "1-based page (Langfuse)"),
                    _query("limit", "integer", "1 to 100"),
                    _query("cursor", "string", "meta.nextCursor of the previous page"),
                ],
                "responses": {"200": _ok(_OBJECT), **write},
            },
            "post": {
                "summary": "Create or replace (same id) a dataset item (datasetName in body)",
                "security": _BASIC,
                "requestBody": _body({**_NEW_ITEM, "required": ["datasetName", "input"]}),
                "responses": {"200": _ok(_ITEM), **write},
            },
        },
        "/api/public/dataset-run-items": {
            "post": {
                "summary": "Link a dataset item to the trace that ran it in a run",
                "security": _BASIC,
                "requestBody": _body(_RUN_ITEM_BODY),
                "responses": {"200": _ok(_OBJECT), **write, **_errors(409)},
            }
        },
    }
