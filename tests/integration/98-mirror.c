/*
 * 98-mirror: the journal mirrored into NATS JetStream by jiceng-mirror,
 * against real nats-server processes (hnats.h): one node, and a three-node
 * cluster with the stream at R3. The group skips when nats-server is not
 * installed.
 */
#include "harness.h"
#include "hnats.h"

#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ a JetStream client */

/* A connection and JetStream context to n's nodes; the test fails if
 * none. */
static void
s_js_open(struct hnats *n, natsConnection **nc, jsCtx **js)
{
	natsOptions *o = NULL;
	const char *servers[HN_MAX_NODES];
	assert_int_equal(natsOptions_Create(&o), NATS_OK);
	natsOptions_SetServers(o, servers, hn_servers(n, servers));
	natsOptions_SetMaxReconnect(o, -1);
	natsOptions_SetReconnectWait(o, 100);
	natsOptions_SetTimeout(o, 2000);
	natsStatus s = natsConnection_Connect(nc, o);
	natsOptions_Destroy(o);
	if (s != NATS_OK)
		fprintf(stderr, "connect %s: %s\n", n->urls, natsStatus_GetText(s));
	assert_int_equal(s, NATS_OK);
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 5000;
	assert_int_equal(natsConnection_JetStream(js, *nc, &jo), NATS_OK);
}

static void
s_js_close(natsConnection *nc, jsCtx *js)
{
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
}

/* Messages in stream, UINT64_MAX when its info cannot be had. */
static uint64_t
s_stream_msgs(jsCtx *js, const char *stream)
{
	jsStreamInfo *si = NULL;
	jsErrCode e = 0;
	if (js_GetStreamInfo(&si, js, stream, NULL, &e) != NATS_OK)
		return UINT64_MAX;
	uint64_t n = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	return n;
}

/* Publish until acked or timeout_ms passes (a cluster electing a new
 * stream leader answers nothing for a moment). */
static natsStatus
s_publish_retry(jsCtx *js, const char *subj, const char *data, int timeout_ms)
{
	natsStatus s;
	int64_t end = now_mono_ms() + hn_ms(timeout_ms);
	do {
		jsPubAck *pa = NULL;
		jsErrCode e = 0;
		s = js_Publish(&pa, js, subj, data, (int)strlen(data), NULL, &e);
		jsPubAck_Destroy(pa);
		if (s == NATS_OK)
			return s;
		h_sleep_ms(100);
	} while (now_mono_ms() < end);
	return s;
}

/* ================================================================ the fixture */

/* The fixture itself: three nodes, a stream at R3 that keeps every
 * message published while one node is down (kill -9) and after it is
 * back. */
static void
test_fixture_cluster(void **state)
{
	(void)state;
	if (!hn_available())
		skip();
	struct hnats *n = hn_start(3);
	assert_non_null(n);
	natsConnection *nc;
	jsCtx *js;
	s_js_open(n, &nc, &js);
	jsStreamConfig cfg;
	jsStreamConfig_Init(&cfg);
	cfg.Name = "FIXTURE";
	const char *subjects[] = { "fx.>" };
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	cfg.Replicas = 3;
	jsStreamInfo *si = NULL;
	jsErrCode e = 0;
	natsStatus s = NATS_TIMEOUT;
	for (int64_t end = now_mono_ms() + hn_ms(10000); s != NATS_OK && now_mono_ms() < end;
	     h_sleep_ms(200))
		s = js_AddStream(&si, js, &cfg, NULL, &e);
	assert_int_equal(s, NATS_OK);
	jsStreamInfo_Destroy(si);
	for (int i = 0; i < 10; i++)
		assert_int_equal(s_publish_retry(js, "fx.a", "before", 10000), NATS_OK);
	hn_kill9(n, 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(s_publish_retry(js, "fx.a", "during", 10000), NATS_OK);
	assert_int_equal(hn_restart(n, 1), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(s_publish_retry(js, "fx.a", "after", 10000), NATS_OK);
	assert_int_equal(s_stream_msgs(js, "FIXTURE"), 30);
	s_js_close(nc, js);
	hn_destroy(&n);
}

int
integ_mirror(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fixture_cluster, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("mirror", tests, NULL, NULL);
}
