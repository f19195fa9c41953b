//! The expiry sweep: physically removes dead keys and, optionally, old versions.
//!
//! Expired and deleted keys already behave as absent; the sweep only reclaims their space. On
//! every partition this node leads, it surveys a stretch of keys per round and proposes
//! `PurgeDead` for keys dead for longer than `tombstone_retention` (and `PurgeVersions` for
//! versions older than `revision_max_age`, when set). Purges go through Raft so every replica
//! removes the same data at the same point of the log; the state machine re-checks each key.
//! The Ephemeral keyspace is swept the same way, directly in the leader's memory; when it is
//! near its memory cap, without waiting for `tombstone_retention` (see `ephemeral`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::Service;
use super::ephemeral::Admit;
use crate::hlc;
use crate::mvcc;
use crate::raft::Command;

/// Configuration of the sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Time between rounds.
    pub interval: Duration,
    /// How long a dead key keeps its history (and revision counter) before it is purged.
    pub tombstone_retention: Duration,
    /// Versions older than this are purged (the latest version is always kept); `None` = keep
    /// up to the retention count regardless of age.
    pub revision_max_age: Option<Duration>,
    /// Keys surveyed per partition per round.
    pub keys_per_round: usize,
}

impl SweepOptions {
    /// At `now`: keys dead before the first time are purged, and versions older than the second
    /// (when versions age out).
    fn horizons(&self, now: u64) -> (u64, Option<u64>) {
        let dead_before = hlc::sub_ms(now, self.tombstone_retention.as_millis() as u64);
        (dead_before, self.revision_max_age.map(|age| hlc::sub_ms(now, age.as_millis() as u64)))
    }
}

/// The shortest gap between two Ephemeral rounds started by refused writes.
const PRESSURE_ROUND_GAP: Duration = Duration::from_secs(1);

/// Most surveys (of `keys_per_round` keys each) per partition in an Ephemeral round under
/// pressure.
const PRESSURE_SURVEYS: usize = 64;

/// How long an Ephemeral round under pressure keeps surveying one partition. A survey copies
/// the versions it reads, so without a bound a round through large values with history could
/// take the node's one thread for seconds, every second, while writes are refused.
const PRESSURE_PARTITION_TIME: Duration = Duration::from_millis(20);

/// Which sweep cursor: a partition's Persistent or Ephemeral keys.
type Cursors = HashMap<(u32, bool), Option<String>>;

pub(super) fn spawn(service: &Arc<Service>) {
    let weak = Arc::downgrade(service);
    let interval = service.options.sweep.interval;
    if interval.is_zero() {
        return;
    }
    let refused = service.ephemeral.refused.clone();
    tokio::spawn(async move {
        let mut cursors = Cursors::new();
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        let mut last_pressure_round: Option<Instant> = None;
        loop {
            let pressed = tokio::select! {
                _ = ticker.tick() => false,
                _ = refused.notified() => true,
            };
            if pressed {
                // A write was refused at the Ephemeral cap: purge what expired now rather than
                // at the next tick, at most once per PRESSURE_ROUND_GAP.
                if let Some(last) = last_pressure_round {
                    tokio::time::sleep_until(last + PRESSURE_ROUND_GAP).await;
                }
                last_pressure_round = Some(Instant::now());
            }
            let Some(service) = weak.upgrade() else { break };
            service.sweep_round(&mut cursors, pressed).await;
        }
    });
}

impl Service {
    /// One round over the partitions this node leads. A round started by a refused write
    /// (`refused`) sweeps only the Ephemeral keys, as under pressure: the write needs room now,
    /// whatever share of the cap is in use.
    async fn sweep_round(&self, cursors: &mut Cursors, refused: bool) {
        for part in self.cluster.partitions() {
            let l = part.leadership();
            if !l.serving {
                continue;
            }
            if !refused {
                self.sweep_persistent(part, cursors).await;
            }
            let pressure = refused || self.ephemeral_under_pressure();
            self.sweep_ephemeral(part.id(), l.term, pressure, cursors).await;
        }
    }

    /// Proposes the purges of one stretch of `part`'s Persistent keys.
    async fn sweep_persistent(&self, part: &crate::partition::Partition, cursors: &mut Cursors) {
        let opts = &self.options.sweep;
        let p = part.id();
        let (dead_before, old_before) = opts.horizons(self.clock.now());
        let cursor = cursors.entry((p, false)).or_default();
        let survey = match mvcc::survey(
            &*part.view().engine,
            p,
            cursor.as_deref(),
            opts.keys_per_round,
            dead_before,
            old_before,
        ) {
            Ok(survey) => survey,
            Err(e) => return tracing::error!(partition = p, error = %e, "sweep survey failed"),
        };
        *cursor = survey.next;
        let mut commands = Vec::new();
        if !survey.dead.is_empty() {
            commands.push(Command::PurgeDead { keys: survey.dead, dead_before });
        }
        if let (false, Some(before)) = (survey.with_old_versions.is_empty(), old_before) {
            commands.push(Command::PurgeVersions { keys: survey.with_old_versions, before });
        }
        for command in commands {
            match part.propose(command).await {
                Ok(result) => tracing::debug!(partition = p, ?result, "sweep"),
                Err(e) => tracing::debug!(partition = p, error = %e, "sweep proposal failed"),
            }
        }
    }

    /// Purges dead keys (and old versions) of partition `p`'s Ephemeral data, in memory. Under
    /// `pressure` (the store near its cap, or a write refused) keys are purged as soon as they
    /// are dead, and the round goes on for up to [`PRESSURE_SURVEYS`] stretches of keys or
    /// [`PRESSURE_PARTITION_TIME`], whichever comes first: to the partition's end and, when it
    /// started half-way, around from its start.
    async fn sweep_ephemeral(&self, p: u32, term: u64, pressure: bool, cursors: &mut Cursors) {
        let opts = &self.options.sweep;
        let surveys = if pressure { PRESSURE_SURVEYS } else { 1 };
        let engine = self.ephemeral_engine(p, term);
        let cursor = cursors.entry((p, true)).or_default();
        let mut dead = 0;
        let mut wrapped = cursor.is_none();
        let until = Instant::now() + PRESSURE_PARTITION_TIME;
        for _ in 0..surveys {
            let now = self.clock.now();
            let (retained, old_before) = opts.horizons(now);
            let dead_before = if pressure { now } else { retained };
            let survey = match mvcc::survey(&engine, p, cursor.as_deref(), opts.keys_per_round, dead_before, old_before)
            {
                Ok(survey) => survey,
                Err(e) => return tracing::error!(partition = p, error = %e, "ephemeral sweep survey failed"),
            };
            *cursor = survey.next;
            dead += survey.dead.len();
            if !survey.dead.is_empty() || (old_before.is_some() && !survey.with_old_versions.is_empty()) {
                // Purged like any Ephemeral write: under the partition's writer lock, so a
                // write landing between the survey and the purge is seen by the re-check.
                let purged = self
                    .ephemeral_write(p, Admit::Always, |staged, _ts, _term| {
                        let heads = &mut mvcc::Heads::disabled();
                        for key in &survey.dead {
                            mvcc::purge_dead(staged, heads, p, key, dead_before)?;
                        }
                        if let Some(before) = old_before {
                            for key in &survey.with_old_versions {
                                mvcc::purge_versions_before(staged, heads, p, key, before)?;
                            }
                        }
                        Ok(())
                    })
                    .await;
                if let Err(e) = purged {
                    return tracing::debug!(partition = p, error = %e, "ephemeral sweep failed");
                }
            }
            if cursor.is_none() {
                if wrapped || !pressure {
                    break; // the next round starts over
                }
                wrapped = true; // the round began half-way: go on from the partition's start
            }
            if Instant::now() >= until {
                break; // the next round goes on from here
            }
            tokio::task::yield_now().await;
        }
        tracing::debug!(partition = p, pressure, dead, "ephemeral sweep");
    }

    /// Makes reads at `ts` on `partition` stable: the clock passes `ts` and, for Persistent
    /// data, the partition's state machine has moved past it, so nothing can still commit at
    /// or below `ts`.
    pub(super) async fn close_timestamp(
        &self,
        partition: u32,
        ts: u64,
        durability: super::Durability,
        arg: &str,
    ) -> Result<(), super::Error> {
        if !self.clock.observe(ts) {
            return Err(super::Error::InvalidInput(format!(
                "{arg} ({ts}) is too far ahead of the cluster clock ({})",
                self.clock.peek()
            )));
        }
        if durability == super::Durability::Persistent {
            let part = self.cluster.partition(partition);
            if part.view().last_ts() < ts {
                part.propose(Command::Advance { ts }).await?;
            }
        }
        Ok(())
    }
}
