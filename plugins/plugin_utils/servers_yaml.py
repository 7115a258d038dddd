# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bounded reading of a servers.yaml for the gardenos.cluster.servers inventory plugin: its size, its
top-level `plugin:` key, and its YAML node tree (syntax, duplicate keys, nesting, what aliases expand to),
checked before Ansible loads the file.

The checks take `error(msg, server=None, field=None)`, which returns the exception to raise (the plugin's
parse error naming the file, the server and the field)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import yaml
from ansible.module_utils.common.text.converters import to_native

# Bounds on the file, checked before Ansible reads it: a servers.yaml is a few KB. Ansible copies every variable
# value as a tree, so a few lines of nested YAML aliases ("billion laughs") would otherwise run it for minutes.
MAX_FILE_BYTES = 1024 * 1024
# nodes that YAML aliases may add to the document once expanded (200 servers sharing a vars block of 100 entries
# through an alias add 40000)
MAX_ALIAS_NODES = 100000
# levels of nesting, the file's top-level mapping being the first and a server's `vars:` mapping the fourth
MAX_DEPTH = 32

# the value of a top-level `plugin:` line, to tell whether a file too big to be parsed names this plugin
_PLUGIN_LINE = re.compile(rb"""^plugin:[ \t]*(["']?)([A-Za-z0-9_.]+)\1[ \t]*(?:#.*)?$""", re.MULTILINE)


def top_level_plugin_key(path):
    """The scalar value of the file's top-level `plugin:` key; None when absent; raises when unreadable.

    A file too big to be used is not parsed: its `plugin:` line is looked for instead (parse() refuses it).
    """
    with open(path, "rb") as f:
        text = f.read(MAX_FILE_BYTES + 1)
    if len(text) > MAX_FILE_BYTES:
        match = _PLUGIN_LINE.search(text)
        return match.group(2).decode("ascii") if match else None
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == "plugin":
                return value_node.value if isinstance(value_node, yaml.ScalarNode) else ""
    return None


def check_size(size, error):
    """Refuses a file of more than MAX_FILE_BYTES bytes."""
    if size > MAX_FILE_BYTES:
        raise error("the file is %d bytes, more than the %d (1 MiB) a servers.yaml may have" % (size, MAX_FILE_BYTES))


def check_yaml(text, error):
    """Syntax errors with their line and column, emptiness, duplicate keys, and what aliases expand to.

    All from the YAML node tree, where an alias is the node it names (not a copy), before Ansible loads the file.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise error("the YAML is nested too deeply to be read (at most %d levels)" % MAX_DEPTH) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark else ""
        what = ": ".join(part for part in (e.context, e.problem) if part)
        raise error("YAML syntax error%s: %s" % (where, what)) from None
    except yaml.YAMLError as e:
        raise error("YAML error: %s" % to_native(e)) from None
    if root is None:
        raise error("the file is empty; it needs a 'servers:' mapping")
    if not isinstance(root, yaml.MappingNode):
        raise error(
            "the top level must be a mapping with the keys 'servers' and optionally 'cluster', got %s"
            % ("a list" if isinstance(root, yaml.SequenceNode) else "a scalar")
        )
    _check_duplicate_keys(root, (), set(), error)
    _check_expansion(root, (), 1, dict(shapes={}, open=set(), added=0), error)


def _node_name(node):
    """How a mapping key node is shown in messages."""
    return node.value if isinstance(node, yaml.ScalarNode) else "<%s>" % node.tag.rsplit(":", 1)[-1]


def _where(keys):
    """The server and field of a place in the file, from the mapping keys that lead to it."""
    if len(keys) >= 2 and keys[0] == "servers":
        return dict(server=keys[1], field=".".join(keys[2:]) or None)
    return dict(field=".".join(keys) or None)


def _check_expansion(node, keys, depth, state, error):
    """The node's (nodes, height) once YAML aliases are expanded, the nodes capped at MAX_ALIAS_NODES + 1.

    Each node is walked once: reaching it again is an alias (or a merge key) copying it, which adds its nodes
    to state['added']. Refuses more than MAX_ALIAS_NODES added nodes, nesting deeper than MAX_DEPTH (aliases
    included), and an alias inside the node it names.
    """
    if depth > MAX_DEPTH:  # before going deeper: the walk's own recursion stays short
        raise error("nested more than %d levels deep" % MAX_DEPTH, **_where(keys))
    ident = id(node)
    if ident in state["open"]:
        raise error(
            "a YAML alias refers to the node on line %d, which contains it: recursive structures are not allowed"
            % (node.start_mark.line + 1),
            **_where(keys),
        )
    shape = state["shapes"].get(ident)
    if shape is None:
        shape = _expand_children(node, keys, depth, state, error)
        state["shapes"][ident] = shape
    else:
        state["added"] += shape[0]
        if state["added"] > MAX_ALIAS_NODES:
            raise error(
                "YAML aliases copy more than %d nodes (here an alias of the node on line %d); repeat less "
                "through anchors and aliases" % (MAX_ALIAS_NODES, node.start_mark.line + 1),
                **_where(keys),
            )
    if depth + shape[1] - 1 > MAX_DEPTH:
        raise error("nested more than %d levels deep" % MAX_DEPTH, **_where(keys))
    return shape


def _expand_children(node, keys, depth, state, error):
    """(nodes, height) of a node reached for the first time, from its children's."""
    if isinstance(node, yaml.SequenceNode):
        children = [(item, keys) for item in node.value]
    elif isinstance(node, yaml.MappingNode):
        children = []
        for key_node, value_node in node.value:
            children += [(key_node, keys), (value_node, (*keys, _node_name(key_node)))]
    else:
        return 1, 1
    state["open"].add(id(node))
    nodes, height = 1, 1
    for child, child_keys in children:
        child_nodes, child_height = _check_expansion(child, child_keys, depth + 1, state, error)
        nodes, height = min(nodes + child_nodes, MAX_ALIAS_NODES + 1), max(height, child_height + 1)
    state["open"].discard(id(node))
    return nodes, height


def _check_duplicate_keys(node, keys, visited, error):
    """A YAML mapping keeps the last of duplicate keys silently: refuse them, naming both lines."""
    if id(node) in visited:  # an alias of a node already checked
        return
    visited.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, keys, visited, error)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    seen = {}
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            ident = (key_node.tag, key_node.value)
            if ident in seen:
                _raise_duplicate(keys, key_node.value, seen[ident], key_node.start_mark.line + 1, error)
            seen[ident] = key_node.start_mark.line + 1
        _check_duplicate_keys(value_node, (*keys, _node_name(key_node)), visited, error)


def _raise_duplicate(keys, key, first, second, error):
    lines = "on lines %d and %d; YAML would silently keep only the last" % (first, second)
    if keys == ("servers",):
        raise error("the server is defined twice, %s" % lines, server=key)
    raise error("duplicate key %s" % lines, **_where((*keys, key)))
