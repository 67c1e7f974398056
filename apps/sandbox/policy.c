// SPDX-License-Identifier: MIT
/*
 * dune-sandbox policy files and path checks.  No Dune or libc state here
 * beyond strings: the host unit tests (test_policy.c) link this file alone.
 *
 * A policy is a list of lines; '#' starts a comment.  Directives:
 *
 *   default                the built-in policy below, at this point
 *   allow NAME... | all    system calls the program may make
 *   deny NAME... | all     ... and may not (EPERM); later lines win
 *   path PREFIX...         paths it may open for reading, stat, execute
 *   path-write PREFIX...   paths it may also create, write, rename, remove
 *   network on|off         sockets (the SBX_SYS_NET calls)
 *   memory SIZE            bytes of memory it may own (K, M, G suffixes)
 *   log on|off             one line per system call decision on stderr
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

const char sbx_default_policy[] =
	"# dune-sandbox built-in policy\n"
	"allow all\n"
	"path /bin /sbin /usr /lib /lib64 /etc /tests /tmp\n"
	"path /dev/null /dev/zero /dev/urandom /dev/random\n"
	"path-write /dev/null /dev/tty\n"
	"network off\n"
	"memory 1G\n"
	"log off\n";

void sbx_policy_init(struct sbx_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->memory = 1ULL << 30;
}

int sbx_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (!s[0] || s[0] == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (*end || v > (1ULL << 47) >> shift)
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int sbx_path_normalise(const char *base, const char *path, char *out, size_t outlen)
{
	char tmp[2 * SBX_PATH_MAX + 2];
	size_t n = 0, i = 0, len;
	const char *c;

	if (path[0] == '/') {
		len = strlen(path);
		if (len >= SBX_PATH_MAX)
			return -ENAMETOOLONG;
		memcpy(tmp, path, len + 1);
	} else {
		if (!base || base[0] != '/')
			return -EINVAL;
		size_t bl = strlen(base), pl = strlen(path);

		if (bl + 1 + pl >= sizeof(tmp) - 1)
			return -ENAMETOOLONG;
		memcpy(tmp, base, bl);
		tmp[bl] = '/';
		memcpy(tmp + bl + 1, path, pl + 1);
	}
	/* out is built component by component; n is its length */
	if (outlen < 2)
		return -ENAMETOOLONG;
	c = tmp;
	while (*c) {
		const char *s;

		while (*c == '/')
			c++;
		s = c;
		while (*c && *c != '/')
			c++;
		i = (size_t)(c - s);
		if (i == 0 || (i == 1 && s[0] == '.'))
			continue;
		if (i == 2 && s[0] == '.' && s[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;	/* the slash */
			continue;
		}
		if (n + 1 + i + 1 > outlen)
			return -ENAMETOOLONG;
		out[n++] = '/';
		memcpy(out + n, s, i);
		n += i;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return 0;
}

static bool prefix_match(const char *prefix, const char *path)
{
	size_t n = strlen(prefix);

	if (n == 1 && prefix[0] == '/')
		return path[0] == '/';
	return strncmp(prefix, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

bool sbx_path_allowed(const struct sbx_policy *p, const char *path, int acc)
{
	int i;

	if (path[0] != '/')
		return false;
	for (i = 0; i < p->n_write; i++)
		if (prefix_match(p->write_prefix[i], path))
			return true;
	if (acc & SBX_ACC_WRITE)
		return false;
	for (i = 0; i < p->n_read; i++)
		if (prefix_match(p->read_prefix[i], path))
			return true;
	return false;
}

static int add_prefix(char **list, int *n, const char *word, char *why, size_t whylen)
{
	char norm[SBX_PATH_MAX];
	int i;

	if (word[0] != '/') {
		snprintf(why, whylen, "path prefix '%s' is not absolute", word);
		return -1;
	}
	if (sbx_path_normalise(NULL, word, norm, sizeof(norm))) {
		snprintf(why, whylen, "path prefix '%.64s...' is too long", word);
		return -1;
	}
	for (i = 0; i < *n; i++)
		if (!strcmp(list[i], norm))
			return 0;
	if (*n >= SBX_MAX_PREFIXES) {
		snprintf(why, whylen, "more than %d path prefixes", SBX_MAX_PREFIXES);
		return -1;
	}
	list[*n] = strdup(norm);
	if (!list[*n]) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	(*n)++;
	return 0;
}

static int set_syscalls(struct sbx_policy *p, char *words, int allow, char *why, size_t whylen)
{
	char *w, *save = NULL;
	int i, any = 0;

	for (w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		int nr;
		unsigned int flags;

		any = 1;
		if (!strcmp(w, "all")) {
			for (i = 0; !sbx_sys_entry(i, &nr, &flags); i++)
				if (!(flags & SBX_SYS_NEVER))
					p->allow[nr] = (unsigned char)allow;
			continue;
		}
		if (sbx_sys_lookup(w, &nr, &flags)) {
			snprintf(why, whylen, "unknown system call '%s' (not in the runtime's table)", w);
			return -1;
		}
		if ((flags & SBX_SYS_NEVER) && allow) {
			snprintf(why, whylen, "'%s' can never be allowed: the sandbox cannot "
				 "contain it (see Documentation/apps-sandbox.rst)", w);
			return -1;
		}
		p->allow[nr] = (unsigned char)allow;
	}
	if (!any) {
		snprintf(why, whylen, "'%s' needs at least one system call name", allow ? "allow" : "deny");
		return -1;
	}
	return 0;
}

static int on_off(const char *w, bool *out)
{
	if (w && !strcmp(w, "on"))
		*out = true;
	else if (w && !strcmp(w, "off"))
		*out = false;
	else
		return -1;
	return 0;
}

int sbx_policy_parse(struct sbx_policy *p, const char *name, const char *text,
		     char *err, size_t errlen)
{
	const char *line = text;
	int lineno = 0;
	char why[256];

	while (*line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		char buf[1024], *cmd, *rest, *save = NULL, *hash, *w, *extra;

		lineno++;
		why[0] = '\0';
		if (len >= sizeof(buf)) {
			snprintf(why, sizeof(why), "line too long");
			goto bad;
		}
		memcpy(buf, line, len);
		buf[len] = '\0';
		line += len + (eol ? 1 : 0);
		hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		for (w = buf; *w; w++)
			if (*w == '\t' || *w == '\r')
				*w = ' ';
		cmd = strtok_r(buf, " ", &save);
		if (!cmd)
			continue;
		rest = save ? save : (char *)"";
		if (!strcmp(cmd, "default")) {
			if (strtok_r(NULL, " ", &save)) {
				snprintf(why, sizeof(why), "'default' takes no argument");
				goto bad;
			}
			if (sbx_policy_parse(p, "<built-in policy>", sbx_default_policy, err, errlen))
				return -1;
		} else if (!strcmp(cmd, "allow") || !strcmp(cmd, "deny")) {
			if (set_syscalls(p, rest, cmd[0] == 'a', why, sizeof(why)))
				goto bad;
		} else if (!strcmp(cmd, "path") || !strcmp(cmd, "path-write")) {
			int any = 0;

			while ((w = strtok_r(NULL, " ", &save))) {
				any = 1;
				if (cmd[4] ? add_prefix(p->write_prefix, &p->n_write, w, why, sizeof(why))
					   : add_prefix(p->read_prefix, &p->n_read, w, why, sizeof(why)))
					goto bad;
			}
			if (!any) {
				snprintf(why, sizeof(why), "'%s' needs at least one absolute path", cmd);
				goto bad;
			}
		} else if (!strcmp(cmd, "network") || !strcmp(cmd, "log")) {
			w = strtok_r(NULL, " ", &save);
			extra = strtok_r(NULL, " ", &save);
			if (extra || on_off(w, cmd[0] == 'n' ? &p->network : &p->log)) {
				snprintf(why, sizeof(why), "'%s' takes 'on' or 'off'", cmd);
				goto bad;
			}
		} else if (!strcmp(cmd, "memory")) {
			w = strtok_r(NULL, " ", &save);
			extra = strtok_r(NULL, " ", &save);
			if (!w || extra || sbx_parse_size(w, &p->memory) || p->memory < (1 << 20)) {
				snprintf(why, sizeof(why), "'memory' takes one size of at least 1M "
					 "(bytes, or with a K, M or G suffix)");
				goto bad;
			}
		} else {
			snprintf(why, sizeof(why), "unknown directive '%s'", cmd);
			goto bad;
		}
		continue;
bad:
		snprintf(err, errlen, "%s:%d: %s", name, lineno, why);
		return -1;
	}
	return 0;
}
