# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # The support levels of ansible.builtin.action_common_attributes that every module of the
    # collection shares: modules run on POSIX targets.
    DOCUMENTATION = r"""
options: {}
attributes:
  platform:
    platforms: posix
"""

    # Modules that only read (etcd_info, haproxy_info, patroni_check): the same in check mode, no diff.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: Read-only; runs the same in check mode.
  diff_mode:
    support: none
"""
