/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef KVMON_DLPREFETCH_H
#define KVMON_DLPREFETCH_H

/* Read-ahead (POSIX_FADV_WILLNEED) of the non-code segments of library
 * soname and of the libraries it needs that are not loaded yet, before
 * it is dlopen'ed (dlprefetch.c). */
void cli_dl_prefetch(const char *soname);

#endif
