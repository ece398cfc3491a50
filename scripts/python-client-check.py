#!/usr/bin/env python3
"""Drives the official Python client `braintrust-api` (PyPI) against a running Braintrust-
compatible API (the bt-gitops emulator) and reports each step: list, create, patch and delete a
project, a role and a group, an ACL batch through the client's own path (`/v1/acl/batch-update`,
with a hyphen), env var and user lists. It shows that the emulator answers what a first-party
client sends, in either profile.

Usage (the client is not a dependency of bt-gitops; install it in a throw-away venv):
    python3 -m venv /tmp/bt-py && /tmp/bt-py/bin/pip install braintrust-api
    bt-gitops emulator --profile real      # prints the URL and the API key
    /tmp/bt-py/bin/python scripts/python-client-check.py --url URL --key KEY

Exit status: 0 when every step passed, 1 otherwise. Nothing here runs under `cargo test`.
"""

import argparse
import sys
import traceback
import uuid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:PORT")
    parser.add_argument("--key", required=True, help="API key of an org owner")
    args = parser.parse_args()

    try:
        from braintrust_api import Braintrust
    except ImportError:
        print("the `braintrust-api` package is not installed (pip install braintrust-api)")
        return 1

    client = Braintrust(api_key=args.key, base_url=args.url, max_retries=0)
    suffix = uuid.uuid4().hex[:8]
    state = {}
    results = []

    def step(name, fn):
        try:
            detail = fn()
            results.append((name, True, detail or ""))
        except Exception as e:  # a failed step is reported, the next ones still run
            results.append((name, False, f"{type(e).__name__}: {e}"))
            traceback.print_exc(file=sys.stderr)

    def check(condition, message):
        if not condition:
            raise AssertionError(message)

    # Projects.
    def project_create():
        p = client.projects.create(name=f"py-check-{suffix}")
        state["project"] = p
        check(p.name == f"py-check-{suffix}", f"created name {p.name}")
        again = client.projects.create(name=f"py-check-{suffix}")
        check(again.id == p.id, "POST of an existing name returns the existing project")
        return p.id

    def project_list():
        names = [p.name for p in client.projects.list()]
        check(f"py-check-{suffix}" in names, f"listed {names}")
        return f"{len(names)} projects"

    def project_patch():
        p = client.projects.update(state["project"].id, name=f"py-check-{suffix}-renamed")
        check(p.name == f"py-check-{suffix}-renamed", f"renamed to {p.name}")

    # Roles.
    def role_create():
        r = client.roles.create(
            name=f"py-role-{suffix}",
            description="made by python-client-check",
            member_permissions=[{"permission": "read"}],
        )
        state["role"] = r
        check(r.name == f"py-role-{suffix}", f"created name {r.name}")

    def role_list():
        names = [r.name for r in client.roles.list()]
        check(f"py-role-{suffix}" in names, f"listed {names}")
        return f"{len(names)} roles"

    def role_patch():
        r = client.roles.update(
            state["role"].id, add_member_permissions=[{"permission": "update"}]
        )
        perms = sorted(p.permission for p in (r.member_permissions or []))
        check(perms == ["read", "update"], f"permissions {perms}")

    # Groups.
    def group_create():
        g = client.groups.create(name=f"py-group-{suffix}", description="made by python-client-check")
        state["group"] = g
        check(g.name == f"py-group-{suffix}", f"created name {g.name}")

    def group_list():
        names = [g.name for g in client.groups.list()]
        check(f"py-group-{suffix}" in names, f"listed {names}")
        return f"{len(names)} groups"

    def group_patch():
        g = client.groups.update(state["group"].id, description="patched")
        check(g.description == "patched", f"description {g.description}")

    # ACLs through the client's batch path (`/v1/acl/batch-update`).
    def acl_batch():
        acl = {
            "object_type": "project",
            "object_id": state["project"].id,
            "group_id": state["group"].id,
            "role_id": state["role"].id,
        }
        added = client.acls.batch_update(add_acls=[acl])
        check(len(added.added_acls) == 1, f"added {added.added_acls}")
        listed = client.acls.list(object_type="project", object_id=state["project"].id)
        check(any(a.group_id == state["group"].id for a in listed), "the ACL is listed")
        removed = client.acls.batch_update(remove_acls=[acl])
        check(len(removed.removed_acls) == 1, f"removed {removed.removed_acls}")

    # Lists bt-gitops reads too.
    def env_var_list():
        org = next(iter(client.organizations.list())).id
        out = client.env_vars.list(object_type="organization", object_id=org)
        return f"{len(out.objects)} env vars"

    def user_list():
        users = list(client.users.list())
        check(len(users) >= 1, "at least the caller")
        return f"{len(users)} users"

    # Deletes (no request body, as the client sends them).
    def deletes():
        client.groups.delete(state["group"].id)
        client.roles.delete(state["role"].id)
        client.projects.delete(state["project"].id)
        names = [p.name for p in client.projects.list()]
        check(f"py-check-{suffix}-renamed" not in names, "the project is gone")

    for name, fn in [
        ("project create", project_create),
        ("project list", project_list),
        ("project patch", project_patch),
        ("role create", role_create),
        ("role list", role_list),
        ("role patch", role_patch),
        ("group create", group_create),
        ("group list", group_list),
        ("group patch", group_patch),
        ("acl batch-update add/list/remove", acl_batch),
        ("env var list", env_var_list),
        ("user list", user_list),
        ("delete group, role, project", deletes),
    ]:
        step(name, fn)

    passed = sum(1 for _, ok, _ in results if ok)
    for name, ok, detail in results:
        print(f"{'PASS' if ok else 'FAIL'}  {name}{'  (' + detail + ')' if detail else ''}")
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
