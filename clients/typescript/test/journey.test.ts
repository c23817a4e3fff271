// The mobile app's journey through the generated client, against the running handler
// (HEALTHSYNC_BASE_URL; scripts/client-journey starts one on a fresh database). Every `data` field
// that /work/shared/MOBILE-CONTRACT.md lists is read through the generated types into a variable of
// the type the app expects (`text(d.message)`, `count(d.healthScore)` …): a renamed field or a
// changed type is a `tsc --strict` error before it is a failed assertion.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createHealthSyncClient, type HealthSyncClient } from "../src/index.js";

const base = process.env.HEALTHSYNC_BASE_URL;
if (base === undefined) throw new Error("HEALTHSYNC_BASE_URL is not set (scripts/client-journey sets it)");

// Readers: the parameter's type is what the app expects; the value is checked at run time too.
const text = (v: string): string => (assert.equal(typeof v, "string"), v);
const filled = (v: string): string => (assert.ok(text(v).trim().length > 0, "empty text"), v);
const count = (v: number): number => (assert.ok(Number.isFinite(v), `not a number: ${v}`), v);
const flag = (v: boolean): boolean => (assert.equal(typeof v, "boolean"), v);
const instant = (v: string): Date => {
  const d = new Date(text(v));
  assert.ok(!Number.isNaN(d.getTime()), `not a timestamp: ${v}`);
  return d;
};
const maybe = <T>(v: T | null | undefined, read: (x: T) => unknown): void => {
  if (v !== null && v !== undefined) read(v);
};
/** A field the document allows to be absent that the app needs here: present at run time. */
const present = <T>(v: T | null | undefined): T => {
  assert.ok(v !== null && v !== undefined, "missing");
  return v;
};
const percent = (v: number): number => (assert.ok(count(v) >= 0 && v <= 100, `not 0–100: ${v}`), v);

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** The answer's envelope when the status is `status` (the error body in the message otherwise). */
function expect<T>(r: Answer<T>, status: number): T {
  assert.equal(r.response.status, status, `${r.response.url}: ${JSON.stringify(r.error ?? r.data)}`);
  assert.ok(r.data !== undefined, `${r.response.url}: no body`);
  return r.data;
}

function today(): string {
  return new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10); // Asia/Seoul
}

test("the app's journey, from sign-in to the account's erasure", async (t) => {
  let token: string | undefined;
  const api: HealthSyncClient = createHealthSyncClient(base, () => token);
  const email = `journey-${Date.now()}-${process.pid}@example.com`;

  let userId = "";
  await t.test("dev login", async () => {
    const d = expect(await api.POST("/api/auth/dev-login", { body: { email } }), 200).data;
    token = filled(d.accessToken);
    filled(d.refreshToken);
    userId = filled(d.userId);
    assert.equal(flag(d.newUser), true);
  });

  await t.test("register and consents", async () => {
    expect(
      await api.POST("/api/users/register", {
        body: { name: "김건강", birthDate: "1988-03-15", sex: "FEMALE", occupation: "사무직", heightCm: 162 },
      }),
      201,
    );
    const c = expect(
      await api.PUT("/api/users/me/consents", {
        body: {
          consents: [
            { type: "HEALTH_DATA", granted: true, version: "2026-11" },
            { type: "AI_OVERSEAS_TRANSFER", granted: true, version: "2026-11" },
            { type: "NIGHT_PROMOTIONAL", granted: false, version: "2026-11" },
          ],
        },
      }),
      200,
    ).data;
    assert.ok(c.some((x) => x.type === "HEALTH_DATA" && x.granted));
  });

  await t.test("manual checkup, history and trends", async () => {
    const rec = expect(
      await api.POST("/api/health/checkups", {
        body: {
          checkupDate: "2025-10-01",
          height: 162,
          weight: 61.5,
          waist: 79,
          systolic: 128,
          diastolic: 82,
          fastingGlucose: 104,
          totalCholesterol: 205,
          visionLeft: 1.0,
          visionRight: 0.8,
          hearingLeft: 1,
          hearingRight: 1,
        },
      }),
      201,
    ).data;
    const detail = expect(await api.GET("/api/health/checkups/{checkupId}", { params: { path: { checkupId: rec.id } } }), 200);
    assert.equal(detail.data.id, rec.id);

    const h = expect(await api.GET("/api/health/checkup/history", { params: { query: { maxRecords: 5 } } }), 200).data;
    const u = h.userInfo;
    assert.equal(filled(present(u.name)), "김건강");
    count(present(u.age));
    filled(present(u.gender));
    maybe(u.occupation, text);
    assert.ok(h.checkupRecords.length >= 1);
    for (const r of h.checkupRecords) {
      count(r.year);
      count(r.month);
      maybe(r.height, count);
      maybe(r.weight, count);
      maybe(r.waist, count);
      maybe(r.bmi, count);
      maybe(r.vision, (v) => assert.match(text(v), /\//));
      maybe(r.hearing, text);
      maybe(r.bloodPressure, (v) => assert.match(text(v), /^\d+\/\d+$/));
      assert.equal(typeof r.bloodTest, "object");
    }
    const mine = h.checkupRecords.find((r) => r.id === rec.id);
    assert.ok(mine, "the manual checkup is in the history");
    assert.equal(mine.bloodPressure, "128/82");
    const chart = h.chartData;
    assert.equal(text(chart.chartType), "line");
    filled(chart.title);
    for (const p of chart.bmiTrend) {
      count(p.year);
      count(p.bmi);
    }
    assert.equal(typeof h.normalRangeReference, "object");

    const trends = expect(await api.GET("/api/health/trends"), 200).data;
    assert.ok(trends.items.some((i) => i.item === "bmi" && i.points.length >= 1));
  });

  await t.test("NHIS sync through the sample aggregator", async () => {
    const start = expect(
      await api.POST("/api/health/checkup/sync", {
        body: { loginType: "KAKAO", phoneNumber: "01012345678", name: "김건강", birthDate: "1988-03-15" },
      }),
      202,
    ).data;
    assert.equal(start.syncStatus, "PENDING_APPROVAL");
    const jobId = filled(start.jobId);
    let done = start;
    for (let i = 0; i < 50 && done.syncStatus === "PENDING_APPROVAL"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      done = expect(await api.POST("/api/health/checkup/sync/{jobId}/complete", { params: { path: { jobId } } }), 200).data;
    }
    const status: "SUCCESS" | "PENDING_APPROVAL" | "FAILED" = done.syncStatus;
    assert.equal(status, "SUCCESS", JSON.stringify(done));
    filled(done.message);
    assert.equal(flag(done.readyForAnalysis), true);
    maybe(done.syncedAt, instant);
    assert.ok(done.syncedAt, "a finished sync says when");
  });

  await t.test("diagnosis", async () => {
    const d = expect(await api.GET("/api/intelligence/health/diagnosis"), 200).data;
    assert.equal(d.threeSentenceSummary.length, 3);
    d.threeSentenceSummary.forEach(filled);
    percent(d.healthScore);
    const risk: "낮음" | "보통" | "높음" = d.riskLevel;
    assert.ok(["낮음", "보통", "높음"].includes(risk));
    filled(d.occupationConsiderations);
    instant(d.analysisTimestamp);
    assert.ok(count(d.confidenceScore) >= 0 && d.confidenceScore <= 1);
  });

  let picked: string[] = [];
  await t.test("missions: recommendations, catalogue, select, active, complete, history, reset", async () => {
    const rec = expect(await api.POST("/api/intelligence/missions/recommend"), 200).data;
    assert.ok(rec.missions.length > 0);
    for (const m of rec.missions) {
      filled(m.missionId);
      filled(m.title);
      filled(m.description);
      filled(m.category);
      filled(m.difficulty);
      filled(m.healthBenefit);
      text(m.occupationRelevance);
      count(m.estimatedTimeMinutes);
    }
    filled(rec.recommendationReason);
    assert.equal(count(rec.totalRecommended), rec.missions.length);

    const catalog = expect(await api.GET("/api/goals/missions/catalog"), 200).data;
    assert.ok(catalog.missions.length >= 20);
    picked = rec.missions.slice(0, 2).map((m) => m.missionId);

    const sel = expect(await api.POST("/api/goals/missions/select", { body: { selectedMissionIds: picked } }), 201).data;
    filled(sel.goalId);
    assert.deepEqual(sel.selectedMissions.map((m) => m.missionId), picked);
    for (const m of sel.selectedMissions) {
      filled(m.title);
      filled(m.description);
      assert.equal(text(m.startDate), today());
    }
    filled(sel.message);
    instant(sel.setupCompletedAt);

    const active = expect(await api.GET("/api/goals/missions/active"), 200).data;
    assert.equal(count(active.totalMissions), 2);
    for (const m of active.dailyMissions) {
      filled(m.missionId);
      filled(m.title);
      filled(m.description);
      const s: "COMPLETED" | "PENDING" = m.status;
      assert.equal(s, "PENDING");
      assert.equal(flag(m.completedToday), false);
      count(m.streakDays);
      maybe(m.nextReminderTime, instant);
    }
    assert.equal(count(active.todayCompletedCount), 0);
    percent(active.completionRate);

    const first = picked[0];
    assert.ok(first !== undefined);
    const done = expect(
      await api.PUT("/api/goals/missions/{missionId}/complete", {
        params: { path: { missionId: first } },
        body: { completed: true, notes: "저녁에 했어요" },
      }),
      200,
    ).data;
    filled(done.message);
    filled(done.status);
    maybe(done.achievementMessage, text);
    assert.equal(count(done.newStreakDays), 1);
    assert.equal(count(done.totalCompletedCount), 1);
    assert.equal(count(done.earnedPoints), 10, "the points rule: 10 for a completion without a streak");

    const hist = expect(await api.GET("/api/goals/missions/history", { params: { query: { missionIds: first } } }), 200).data;
    percent(hist.totalAchievementRate);
    percent(hist.periodAchievementRate);
    count(hist.bestStreak);
    assert.equal(hist.missionStats.length, 1);
    for (const s of hist.missionStats) {
      assert.equal(s.missionId, first);
      filled(s.title);
      percent(s.achievementRate);
      assert.equal(count(s.completedDays), 1);
      count(s.totalDays);
    }
    assert.equal(typeof hist.chartData, "object");
    assert.equal(text(hist.period.endDate), today());
    text(hist.period.startDate);
    hist.insights.forEach(filled);

    const reset = expect(await api.POST("/api/goals/missions/reset", { body: { reason: "너무 어려워요", currentMissionIds: picked } }), 200).data;
    filled(reset.message);
    assert.ok(reset.newRecommendations.length > 0);
    for (const m of reset.newRecommendations) {
      filled(m.missionId);
      filled(m.title);
      filled(m.description);
      filled(m.category);
    }
    instant(reset.resetCompletedAt);
    // The reset closed the goal: the app sets up the next one from the new picks.
    const next = reset.newRecommendations.slice(0, 2).map((m) => m.missionId);
    expect(await api.POST("/api/goals/missions/select", { body: { selectedMissionIds: next } }), 201);
  });

  await t.test("chat in a session the app named", async () => {
    const sessionId = `journey ${Date.now()}`;
    const a = expect(
      await api.POST("/api/intelligence/chat/consultation", { body: { message: "물은 하루에 얼마나 마셔야 하나요?", sessionId } }),
      200,
    ).data;
    filled(a.response);
    assert.equal(text(a.sessionId), sessionId);
    instant(a.timestamp);
    assert.equal(a.suggestedQuestions.length, 3);
    a.suggestedQuestions.forEach(filled);
    const kind: "coaching" | "offline" | "emergency" | "medical_boundary" = a.responseType;
    assert.ok(["coaching", "offline"].includes(kind), kind);
    const b = expect(await api.POST("/api/intelligence/chat/consultation", { body: { message: "운동할 때는요?", sessionId } }), 200).data;
    assert.equal(b.sessionId, sessionId);

    const h = expect(await api.GET("/api/intelligence/chat/history", { params: { query: { sessionId, messageLimit: 20 } } }), 200).data;
    assert.equal(text(h.sessionId), sessionId);
    assert.equal(count(h.totalMessageCount), 4);
    assert.deepEqual(h.messages.map((m) => m.role), ["user", "assistant", "user", "assistant"]);
    for (const m of h.messages) {
      const role: string = m.role;
      assert.ok(role === "user" || role === "assistant");
      filled(m.content);
      instant(m.timestamp);
    }
    assert.equal(h.messages[0]?.content, "물은 하루에 얼마나 마셔야 하나요?");
  });

  await t.test("encouragement and the operators' batch", async () => {
    const e = expect(await api.POST("/api/motivator/notifications/encouragement", { body: {} }), 200).data;
    filled(e.message);
    const type: "ACHIEVEMENT" | "HABIT_FORMATION" | "SOCIAL" | "HEALTH_BENEFIT" = e.motivationType;
    assert.ok(type.length > 0);
    filled(e.timing);
    filled(e.personalizedTip);
    const p: "HIGH" | "MEDIUM" | "LOW" = e.priority;
    assert.ok(["HIGH", "MEDIUM", "LOW"].includes(p));

    // The handler is spoken to directly here; behind the Functions host this needs its function key.
    const b = expect(
      await api.POST("/api/motivator/batch/notifications", {
        body: { triggerTime: new Date().toISOString(), targetUsers: [userId], notificationType: "DAILY_NUDGE" },
      }),
      202,
    ).data;
    filled(b.batchId);
    count(b.processedCount);
    count(b.successCount);
    count(b.failedCount);
    maybe(b.nextScheduledTime, instant);
  });

  await t.test("notifications: inbox and read", async () => {
    // Delivering `user.registered` to the welcome consumer is the Functions host's part (Service
    // Bus trigger, POST /{FunctionName}); played here as the host plays it.
    const delivered = await fetch(`${base}/MotivatorWelcome`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        Data: { message: JSON.stringify({ userId }) },
        Metadata: { MessageId: `journey-welcome-${userId}`, DeliveryCount: 1, Subject: "user.registered" },
      }),
    });
    assert.equal(delivered.status, 200, await delivered.text());

    const inbox = expect(await api.GET("/api/notifications", { params: { query: { page: 1, size: 20 } } }), 200).data;
    assert.ok(inbox.notifications.length >= 1, JSON.stringify(inbox));
    assert.ok(count(inbox.unreadCount) >= 1);
    const newest = inbox.notifications[0];
    assert.ok(newest !== undefined);
    filled(newest.title);
    filled(newest.body);
    const read = expect(
      await api.POST("/api/notifications/{notificationId}/read", { params: { path: { notificationId: newest.id } } }),
      200,
    ).data;
    assert.ok(read.notification.readAt, "read now");
    assert.equal(read.unreadCount, inbox.unreadCount - 1);
  });

  await t.test("devices", async () => {
    const device = `journey-device-${Date.now()}`;
    expect(await api.PUT("/api/notifications/devices", { body: { platform: "FCM", token: device } }), 200);
    expect(await api.DELETE("/api/notifications/devices", { body: { token: device } }), 200);
  });

  await t.test("export and erasure", async () => {
    const e = expect(await api.GET("/api/users/me/export"), 200).data;
    assert.equal(typeof e, "object");
    assert.ok(JSON.stringify(e).includes("김건강"), "the export holds the profile");
    const gone = await api.DELETE("/api/users/me");
    assert.ok(gone.response.ok, JSON.stringify(gone.error));
    const after = await api.GET("/api/users/profile");
    assert.equal(after.response.status, 401, "the erased account's token opens nothing");
  });
});
