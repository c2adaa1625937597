// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "failmalloc.h"
#include "profile/pprof.h"
#include "pprof_fixture.h"
#include "profile/profile.h"

static void assert_profiles_equal(const struct profile *a, const struct profile *b)
{
	size_t i, j;

	assert_int_equal(a->nstrings, b->nstrings);
	for (i = 0; i < a->nstrings; i++)
		assert_string_equal(a->strings[i], b->strings[i]);
	assert_int_equal(a->nsample_types, b->nsample_types);
	assert_memory_equal(a->sample_types, b->sample_types,
			    a->nsample_types * sizeof(*a->sample_types));
	assert_int_equal(a->nsamples, b->nsamples);
	for (i = 0; i < a->nsamples; i++) {
		const struct pf_sample *x = &a->samples[i], *y = &b->samples[i];

		assert_int_equal(x->nlocations, y->nlocations);
		for (j = 0; j < x->nlocations; j++)
			assert_int_equal(x->location_ids[j], y->location_ids[j]);
		for (j = 0; j < a->nsample_types; j++)
			assert_int_equal(x->values[j], y->values[j]);
		assert_int_equal(x->nlabels, y->nlabels);
		for (j = 0; j < x->nlabels; j++) {
			assert_int_equal(x->labels[j].key, y->labels[j].key);
			assert_int_equal(x->labels[j].str, y->labels[j].str);
			assert_int_equal(x->labels[j].num, y->labels[j].num);
			assert_int_equal(x->labels[j].num_unit, y->labels[j].num_unit);
		}
	}
	assert_int_equal(a->nmappings, b->nmappings);
	for (i = 0; i < a->nmappings; i++) {
		const struct pf_mapping *x = &a->mappings[i], *y = &b->mappings[i];

		assert_int_equal(x->id, y->id);
		assert_int_equal(x->memory_start, y->memory_start);
		assert_int_equal(x->memory_limit, y->memory_limit);
		assert_int_equal(x->file_offset, y->file_offset);
		assert_int_equal(x->filename, y->filename);
		assert_int_equal(x->build_id, y->build_id);
		assert_int_equal(x->has_functions, y->has_functions);
		assert_int_equal(x->has_filenames, y->has_filenames);
		assert_int_equal(x->has_line_numbers, y->has_line_numbers);
		assert_int_equal(x->has_inline_frames, y->has_inline_frames);
	}
	assert_int_equal(a->nlocations, b->nlocations);
	for (i = 0; i < a->nlocations; i++) {
		const struct pf_location *x = &a->locations[i], *y = &b->locations[i];

		assert_int_equal(x->id, y->id);
		assert_int_equal(x->mapping_id, y->mapping_id);
		assert_int_equal(x->address, y->address);
		assert_int_equal(x->is_folded, y->is_folded);
		assert_int_equal(x->nlines, y->nlines);
		for (j = 0; j < x->nlines; j++) {
			assert_int_equal(x->lines[j].function_id, y->lines[j].function_id);
			assert_int_equal(x->lines[j].line, y->lines[j].line);
		}
	}
	assert_int_equal(a->nfunctions, b->nfunctions);
	for (i = 0; i < a->nfunctions; i++) {
		const struct pf_function *x = &a->functions[i], *y = &b->functions[i];

		assert_int_equal(x->id, y->id);
		assert_int_equal(x->name, y->name);
		assert_int_equal(x->system_name, y->system_name);
		assert_int_equal(x->filename, y->filename);
		assert_int_equal(x->start_line, y->start_line);
	}
	assert_int_equal(a->ncomments, b->ncomments);
	for (i = 0; i < a->ncomments; i++)
		assert_int_equal(a->comments[i], b->comments[i]);
	assert_int_equal(a->drop_frames, b->drop_frames);
	assert_int_equal(a->keep_frames, b->keep_frames);
	assert_int_equal(a->time_nanos, b->time_nanos);
	assert_int_equal(a->duration_nanos, b->duration_nanos);
	assert_int_equal(a->period_type.type, b->period_type.type);
	assert_int_equal(a->period_type.unit, b->period_type.unit);
	assert_int_equal(a->period, b->period);
	assert_int_equal(a->default_sample_type, b->default_sample_type);
}

static void test_roundtrip_all_fields(void **state)
{
	struct profile *p = full_profile(), *q = NULL;
	uint8_t *buf, *buf2;
	size_t len, len2;

	encode(p, &buf, &len);
	assert_int_equal(pprof_decode(buf, len, &q), 0);
	assert_profiles_equal(p, q);
	/* Spot checks that the comparison is not of two empty profiles. */
	assert_int_equal(q->nsamples, 3);
	assert_int_equal(q->samples[0].values[1], 30000000);
	assert_int_equal(q->samples[1].values[0], -1);
	assert_int_equal(q->samples[0].labels[2].num, -5);
	assert_true(q->locations[1].is_folded);
	assert_string_equal(profile__str(q, q->drop_frames), "runtime\\..*");
	assert_int_equal(profile__function(q, 3)->start_line, -7);
	/* And the decoded profile encodes to the same bytes. */
	encode(q, &buf2, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	free(buf);
	free(buf2);
	profile__free(p);
	profile__free(q);
}

/* The exact bytes for a small profile: field numbers, packing, omitted zeros. */
static void test_encoding_bytes(void **state)
{
	static const uint8_t want[] = {
		0x0a, 0x04, 0x08, 0x01, 0x10, 0x02, /* sample_type {"cpu", "ns"} */
		0x0a, 0x04, 0x08, 0x03, 0x10, 0x02, /* sample_type {"n", "ns"} */
		/* sample {location_id [1, 2] packed, value [7, 127] packed} */
		0x12, 0x08, 0x0a, 0x02, 0x01, 0x02, 0x12, 0x02, 0x07, 0x7f, 0x22, 0x04, 0x08, 0x01,
		0x18, 0x10,			    /* location {id 1, address 0x10} */
		0x22, 0x04, 0x08, 0x02, 0x18, 0x20, /* location {id 2, address 0x20} */
		0x32, 0x00,			    /* string_table: "" */
		0x32, 0x03, 'c', 'p', 'u',	    /* "cpu" */
		0x32, 0x02, 'n', 's',		    /* "ns" */
		0x32, 0x01, 'n',		    /* "n" */
		0x50, 0x05,			    /* duration_nanos 5 */
	};
	struct profile *p = profile__new();
	uint64_t locs[2];
	int64_t v[2] = { 7, 127 };
	uint8_t *buf;
	size_t len;

	assert_int_equal(profile__add_sample_type(p, "cpu", "ns"), 0);
	assert_int_equal(profile__add_sample_type(p, "n", "ns"), 0);
	locs[0] = profile__add_location(p, 0, 0x10, NULL, 0);
	locs[1] = profile__add_location(p, 0, 0x20, NULL, 0);
	assert_int_equal(profile__add_sample(p, locs, 2, v, NULL, 0), 0);
	p->duration_nanos = 5;
	encode(p, &buf, &len);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	free(buf);
	profile__free(p);
}

static void test_gzip_roundtrip(void **state)
{
	size_t len = 1 << 20, zlen, outlen, i;
	uint8_t *data = malloc(len), *z, *out;

	for (i = 0; i < len; i++)
		data[i] = (uint8_t)((i * 2654435761u) >> 27); /* some repetition */
	assert_int_equal(pprof_gzip(data, len, &z, &zlen), 0);
	assert_true(zlen > 18 && zlen < len);
	assert_int_equal(z[0], 0x1f);
	assert_int_equal(z[1], 0x8b);
	assert_int_equal(z[2], 8); /* deflate */
	assert_int_equal(pprof_gunzip(z, zlen, &out, &outlen), 0);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, data, len);
	free(out);
	free(z);

	/* Empty input too. */
	assert_int_equal(pprof_gzip(data, 0, &z, &zlen), 0);
	assert_int_equal(pprof_gunzip(z, zlen, &out, &outlen), 0);
	assert_int_equal(outlen, 0);
	free(out);
	free(z);

	/* Not gzip: returned as is. */
	assert_int_equal(pprof_gunzip(data, 1000, &out, &outlen), 0);
	assert_int_equal(outlen, 1000);
	assert_memory_equal(out, data, 1000);
	free(out);
	free(data);
}

static void test_gunzip_rejects(void **state)
{
	const char *text = "hello, profile";
	uint8_t *z, *z2, *both, *out;
	size_t zlen, z2len, outlen, i;

	assert_int_equal(pprof_gzip((const uint8_t *)text, strlen(text), &z, &zlen), 0);
	/* Every prefix long enough to carry the magic is truncated gzip. */
	for (i = 2; i < zlen; i++)
		assert_int_equal(pprof_gunzip(z, i, &out, &outlen), -EINVAL);
	/* A damaged CRC. */
	z[zlen - 8] ^= 1;
	assert_int_equal(pprof_gunzip(z, zlen, &out, &outlen), -EINVAL);
	z[zlen - 8] ^= 1;

	/* Concatenated members read as one, as gzip(1) and Go do; other trailing bytes fail. */
	assert_int_equal(pprof_gzip((const uint8_t *)"!!", 2, &z2, &z2len), 0);
	both = malloc(zlen + z2len + 1);
	memcpy(both, z, zlen);
	memcpy(both + zlen, z2, z2len);
	assert_int_equal(pprof_gunzip(both, zlen + z2len, &out, &outlen), 0);
	assert_int_equal(outlen, strlen(text) + 2);
	assert_memory_equal(out, "hello, profile!!", outlen);
	free(out);
	both[zlen] = 0;
	assert_int_equal(pprof_gunzip(both, zlen + 1, &out, &outlen), -EINVAL);
	free(both);
	free(z);
	free(z2);
}

/* A temporary directory per test, removed (one level deep) even when the test fails. */
static int tmpdir_setup(void **state)
{
	char *dir = strdup("/tmp/bpfprof-test-pprof-XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int tmpdir_teardown(void **state)
{
	char *dir = *state, path[512];
	struct dirent *e;
	DIR *d = opendir(dir);

	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path))
			rmdir(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	free(dir);
	return 0;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void test_write_read_file(void **state)
{
	struct profile *p = full_profile(), *q = NULL;
	const char *dir = *state;
	char path[256], missing[256];
	struct stat st;
	uint8_t magic[2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cpu.pb.gz", dir);
	assert_int_equal(pprof_write_file(p, path), 0);
	/* Again, over the existing file. */
	assert_int_equal(pprof_write_file(p, path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(count_entries(dir), 1); /* no temporary file left */
	f = fopen(path, "rb");
	assert_int_equal(fread(magic, 1, 2, f), 2);
	fclose(f);
	assert_int_equal(magic[0], 0x1f);
	assert_int_equal(magic[1], 0x8b);

	assert_int_equal(pprof_read_file(path, &q), 0);
	assert_profiles_equal(p, q);
	profile__free(q);

	/* Not a profile. */
	f = fopen(path, "wb");
	fputs("this is not a profile\n", f);
	fclose(f);
	assert_int_equal(pprof_read_file(path, &q), -EINVAL);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(pprof_read_file(path, &q), -ENOENT);

	/* A missing directory: -ENOENT, and nothing left behind. */
	snprintf(missing, sizeof(missing), "%s/nodir/cpu.pb.gz", dir);
	assert_int_equal(pprof_write_file(p, missing), -ENOENT);
	assert_int_equal(count_entries(dir), 0);
	/* rename() fails after the temporary file is written: it is removed. */
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(pprof_write_file(p, path), -EISDIR);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(rmdir(path), 0);
	/* Root ignores directory permissions. */
	if (geteuid() != 0) {
		assert_int_equal(chmod(dir, 0555), 0);
		assert_int_equal(pprof_write_file(p, path), -EACCES);
		assert_int_equal(chmod(dir, 0755), 0);
		assert_int_equal(count_entries(dir), 0);
	}
	profile__free(p);
}

/*
 * An output made ready at the start: nothing named in the directory until
 * the profile is complete (O_TMPFILE here), then the profile; a failed write
 * leaves the profile in $TMPDIR.
 */
static void test_out_file(void **state)
{
	struct pprof_out o = PPROF_OUT_INIT;
	struct profile *p = full_profile(), *q = NULL;
	const char *dir = *state;
	char path[256], other[256], missing[256], *saved = NULL;
	struct stat st;

	snprintf(path, sizeof(path), "%s/cpu.pb.gz", dir);
	snprintf(other, sizeof(other), "%s/cpu.0002.pb.gz", dir);
	snprintf(missing, sizeof(missing), "%s/nodir/cpu.pb.gz", dir);

	assert_int_equal(pprof_out_open(&o, path), 0);
	assert_true(o.fd >= 0);
	assert_int_equal(count_entries(dir), o.tmp ? 1 : 0);
	assert_int_equal(pprof_out_write(&o, path, p, &saved), 0);
	assert_null(saved);
	pprof_out_close(&o);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(pprof_read_file(path, &q), 0);
	assert_profiles_equal(p, q);
	profile__free(q);
	assert_int_equal(unlink(path), 0);

	/* Opened for one path, written to another: the other. */
	assert_int_equal(pprof_out_open(&o, path), 0);
	assert_int_equal(pprof_out_write(&o, other, p, &saved), 0);
	pprof_out_close(&o);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(stat(other, &st), 0);
	assert_int_equal(unlink(other), 0);

	/* Closed unwritten: nothing left. */
	assert_int_equal(pprof_out_open(&o, path), 0);
	pprof_out_close(&o);
	assert_int_equal(count_entries(dir), 0);

	assert_int_equal(pprof_out_open(&o, dir), -EISDIR);
	assert_int_equal(pprof_out_open(&o, missing), -ENOENT);

	/* The write fails: the profile is in $TMPDIR, named after the output. */
	setenv("TMPDIR", dir, 1);
	assert_int_equal(pprof_out_write(&o, missing, p, &saved), -ENOENT);
	pprof_out_close(&o);
	unsetenv("TMPDIR");
	assert_non_null(saved);
	assert_int_equal(strncmp(saved, dir, strlen(dir)), 0);
	assert_non_null(strstr(saved, "/bpfprof-"));
	assert_int_equal(strcmp(saved + strlen(saved) - 10, "-cpu.pb.gz"), 0);
	assert_int_equal(pprof_read_file(saved, &q), 0);
	assert_profiles_equal(p, q);
	profile__free(q);
	assert_int_equal(count_entries(dir), 1);
	free(saved);
	profile__free(p);
}

/* Runs cmd, returning its exit status, with stderr captured into err. */
static int run(const char *cmd, char *err, size_t errlen)
{
	FILE *f = popen(cmd, "r");
	size_t n;
	int status;

	assert_non_null(f);
	n = fread(err, 1, errlen - 1, f);
	err[n] = '\0';
	status = pclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The real client: go tool pprof reads our file, and we read its re-encoding. */
static void test_go_tool_pprof(void **state)
{
	struct profile *p = full_profile(), *q = NULL;
	const char *dir = *state;
	char path[256], reenc[256], cmd[1024], err[4096];
	int64_t total_p = 0, total_q = 0;
	size_t i;

	if (system("command -v go >/dev/null 2>&1") != 0) {
		profile__free(p);
		skip();
	}
	snprintf(path, sizeof(path), "%s/cpu.pb.gz", dir);
	snprintf(reenc, sizeof(reenc), "%s/go.pb.gz", dir);
	assert_int_equal(pprof_write_file(p, path), 0);

	/* stdout to /dev/null, stderr into the pipe: any warning is a failure. */
	snprintf(cmd, sizeof(cmd), "go tool pprof -raw '%s' 2>&1 >/dev/null", path);
	assert_int_equal(run(cmd, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	snprintf(cmd, sizeof(cmd), "go tool pprof -proto '%s' 2>&1 >'%s'", path, reenc);
	assert_int_equal(run(cmd, err, sizeof(err)), 0);
	assert_string_equal(err, "");

	/* Go's encoder writes short repeated fields unpacked; same totals either way. */
	assert_int_equal(pprof_read_file(reenc, &q), 0);
	assert_int_equal(q->nsample_types, 2);
	assert_string_equal(profile__str(q, q->sample_types[1].type), "cpu");
	/* pprof drops samples without locations; it may reorder the others. */
	assert_int_equal(q->nsamples, p->nsamples - 1);
	for (i = 0; i < p->nsamples; i++) {
		if (p->samples[i].nlocations)
			total_p += p->samples[i].values[1];
	}
	for (i = 0; i < q->nsamples; i++)
		total_q += q->samples[i].values[1];
	assert_int_equal(total_q, total_p);
	assert_int_equal(q->nfunctions, p->nfunctions);
	for (i = 0; i < q->nfunctions; i++) {
		if (!strcmp(profile__str(q, q->functions[i].name), "std::vector<int>::push_back"))
			break;
	}
	assert_true(i < q->nfunctions);
	assert_string_equal(profile__str(q, q->functions[i].system_name),
			    "_ZNSt6vectorIiE9push_backEv");
	assert_int_equal(q->time_nanos, p->time_nanos);

	profile__free(q);
	profile__free(p);
}

/* Out of memory at each allocation of encode, gzip, gunzip and decode in turn. */
static void test_out_of_memory(void **state)
{
	struct profile *p, *q;
	uint8_t *raw, *z, *out;
	size_t rawlen, zlen, outlen;
	bool fired = true;
	long n;
	int err;

	if (!failmalloc_active())
		skip();
	p = full_profile();
	for (n = 0; fired; n++) {
		raw = z = out = NULL;
		q = NULL;
		failmalloc_arm(n);
		err = pprof_encode(p, &raw, &rawlen);
		if (!err)
			err = pprof_gzip(raw, rawlen, &z, &zlen);
		if (!err)
			err = pprof_gunzip(z, zlen, &out, &outlen);
		if (!err)
			err = pprof_decode(out, outlen, &q);
		fired = failmalloc_disarm();
		assert_int_equal(err, fired ? -ENOMEM : 0);
		if (!err)
			assert_profiles_equal(p, q);
		profile__free(q);
		free(raw);
		free(z);
		free(out);
	}
	assert_true(n > 20);
	profile__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_all_fields),
		cmocka_unit_test(test_encoding_bytes),
		cmocka_unit_test(test_gzip_roundtrip),
		cmocka_unit_test(test_gunzip_rejects),
		cmocka_unit_test_setup_teardown(test_write_read_file, tmpdir_setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_go_tool_pprof, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_out_file, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
