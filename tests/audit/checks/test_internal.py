"""InternalCheck: internal hosts, private addresses and build-machine folders, one finding per value."""

from __future__ import annotations

from fixtures import UNLICENSED, piece

from ketch.audit.checks.internal import InternalCheck, internal_values
from ketch.audit.model import Kind, Severity

TEXT = rb'''fetch("https://api.corp/v1"); x="db1.prod.internal:5432"; mail="ops@mailhost.intranet"; a.internal=1;
window.localStorage; s.localeCompare(t); "http://10.0.12.4:8080/x"; {"version": "10.2.3.4"}; host: "192.168.1.20";
var v="172.20.1.1"; "172.15.0.1:80"; "10.1.2.3:9000"; "10.01.2.3:80"; "192.169.1.1:80"; "10.256.0.1:80";
"http://metadata.google.internal/computeMetadata"; "/Users/alice/work/acme/src/a.ts"; "/home/runner/work/x/y.js";
"/home/settings"; "/home/dashboard/profile"; "C:\\Users\\bob\\proj\\a.js"; "/Users/Shared/x"; "/home/user/foo.txt";
"printer.local"; "http://localhost:3000"; "127.0.0.1:80"; "0.0.0.0:80"; xx/Users/carol/a; "D:/Users/dave/x";
"/home/mallory/.ssh/id_rsa";
'''


def test_each_kind_of_internal_value_and_none_of_the_lookalikes():
    assert internal_values(TEXT) == [
        ("host", "api.corp"), ("host", "db1.prod.internal"), ("host", "mailhost.intranet"),
        ("address", "10.0.12.4"), ("address", "192.168.1.20"), ("address", "10.1.2.3"), ("host", "printer.local"),
        ("person", "/Users/alice/"), ("person", "C:\\Users\\bob\\"), ("person", "D:\\Users\\dave\\"),
        ("runner", "/home/runner/"), ("person", "/home/mallory/")]


def test_one_finding_per_value_with_its_count_and_first_paths():
    check = InternalCheck()
    check.visit(piece("pkg/a.js", b'x="/Users/alice/acme/a.ts";y="/Users/alice/acme/b.ts"'), UNLICENSED)
    check.visit(piece("pkg/b.js.map#src/c.ts", b'u="http://build.corp:8080/";z="/Users/alice/q/r.ts"', origin="map"),
                UNLICENSED)
    check.visit(piece("pkg/c.js", b'"/home/circleci/project/x.js"'), UNLICENSED)
    alice, circle, host = check.finish(UNLICENSED)
    assert (alice.kind, alice.severity, alice.rule) == (Kind.INTERNAL, Severity.MEDIUM, "internal/person")
    assert alice.facts == {"value": "/Users/alice/", "count": 3, "paths": ["pkg/a.js", "pkg/b.js.map#src/c.ts"],
                           "category": "person"}
    assert alice.title == "build-machine path names a person: /Users/alice/"
    assert (circle.severity, circle.facts["value"]) == (Severity.LOW, "/home/circleci/")
    assert (host.severity, host.title, host.facts["count"]) == (Severity.LOW, "internal hostname: build.corp", 1)


def test_plain_code_yields_nothing():
    code = (b"for(var e=10.5,t=0;t<e;t++)this.internal.push(t);var v='1.10.2.3';navigator.userAgent;"
            b"route('/home/');a.corp=b.lan;c='local';192.168;")
    assert internal_values(code) == []


def test_every_host_suffix_and_address_range_at_the_edges_of_its_pattern():
    # One "." pass finds both (internal._DOT); each branch of it, and the text around it, once more.
    text = (b'"a.internal" "b.intranet" "c.corp" "d.lan" "e.local" "f.localhost" "g.corporate" "h.lanes"\n'
            b'"172.16.0.1:80" "172.31.255.1:80" "172.32.0.1:80" "192.168.0.1:80" "x10.0.0.1:80" "1.10.0.0.1:80"\n'
            b'10.9.9.9:22 url="10.2.2.2"')
    assert internal_values(text) == [
        ("host", "a.internal"), ("host", "b.intranet"), ("host", "c.corp"), ("host", "d.lan"), ("host", "e.local"),
        ("address", "172.16.0.1"), ("address", "172.31.255.1"), ("address", "192.168.0.1"),
        ("address", "10.9.9.9"), ("address", "10.2.2.2")]
