# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's one version parser: the version strings servers report, as tuples to compare.

Standard library and ``ansible.module_utils`` only: it runs on the managed node too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.common.text.converters import to_text

_LEADING_DIGITS = re.compile(r"\d+")


def version_tuple(version):
    """'3.5.17' -> (3, 5, 17); None when the version does not start with a number.

    The numbers of the dot-separated parts, from the first up to a part that does not start with a
    digit; a part's trailing letters are dropped: '3.0.4rc1' -> (3, 0, 4), 'v1.30.4+k3s1' ->
    (1, 30, 4), '3.5.x' -> (3, 5). 'not_decided', '' and None -> None. Compare the tuples, not the
    strings ('3.10' sorts before '3.4' as text).
    """
    text = to_text(version or "").strip()
    if text[:1] in ("v", "V"):
        text = text[1:]
    parts = []
    for part in text.split("."):
        match = _LEADING_DIGITS.match(part)
        if not match:
            break
        parts.append(int(match.group(0)))
        if match.end() < len(part):
            break
    return tuple(parts) or None
