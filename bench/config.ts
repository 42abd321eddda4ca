import type { RampParams } from './load/ramp.js';

/**
 * The two modes. Quick (`make bench-quick`, < 2 min): every workload with
 * short steps and smaller populations; the production stack on 1:1 only.
 * Full (`make bench`, < 15 min): longer steps with refinement, groups on the
 * production stack too, socket.io with its Redis adapter, 100,000 idle
 * streams and a 1,000-device storm on both backends.
 */

export type Mode = 'quick' | 'full';

/** Start rates (messages/s) per target: the fast baselines skip the steps that tell nothing. */
export type Starts = Record<string, number>;

export interface ModeConfig {
  /** Body of a project message (bytes); every target carries the same per delivered frame. */
  bodyBytes: number;
  direct: { devices: number; connections: number; ramp: RampParams; start: Starts; production: Partial<RampParams> };
  group: { groups: number; size: number; connections: number; ramp: RampParams; start: Starts; production: boolean };
  density: { streams: number; connections: number; idleMs: number };
  storm: { devices: number; usersPerChannel: number; behind: number; connections: number; timeoutMs: number; production: boolean };
  socketioRedis: boolean;
  /** Hard limit for the whole run; a workload that would start past it is skipped. */
  budgetMs: number;
}

const full: RampParams = {
  startRate: 1000,
  factor: 2,
  maxRate: 512_000,
  maxSteps: 8,
  stepMs: 3000,
  warmMs: 600,
  halfMs: 5000,
  drainMs: 3000,
  settleMs: 20_000,
  finalWaitMs: 10_000,
  sustainRatio: 0.95,
  p99LimitMs: 200,
  refine: [1.25, 1.5, 1.75],
  budgetMs: 40_000,
};

const quick: RampParams = {
  ...full,
  stepMs: 1200,
  warmMs: 250,
  halfMs: 1500,
  drainMs: 1500,
  settleMs: 5000,
  finalWaitMs: 3000,
  refine: [1.5],
  maxSteps: 6,
  budgetMs: 12_000,
};

export const MODES: Record<Mode, ModeConfig> = {
  quick: {
    bodyBytes: 128,
    direct: {
      devices: 200,
      connections: 8,
      ramp: quick,
      start: {
        ceiling: 8000,
        'ack relay': 8000,
        'socket.io': 8000,
        'socket.io+acks': 8000,
        'project-memory': 2000,
        'durable relay': 500,
        'project-production': 100,
        'socket.io+redis': 8000,
      },
      production: { budgetMs: 12_000 },
    },
    group: {
      groups: 2,
      size: 100,
      connections: 8,
      ramp: { ...quick, budgetMs: 10_000 },
      start: { 'bare fan-out': 320, 'project-memory': 80, 'project-production': 10 },
      production: false,
    },
    density: { streams: 1000, connections: 4, idleMs: 1000 },
    storm: { devices: 200, usersPerChannel: 10, behind: 100, connections: 4, timeoutMs: 30_000, production: false },
    socketioRedis: false,
    budgetMs: 100_000,
  },
  full: {
    bodyBytes: 128,
    direct: {
      devices: 400,
      connections: 16,
      ramp: full,
      start: {
        ceiling: 4000,
        'ack relay': 4000,
        'socket.io': 4000,
        'socket.io+acks': 4000,
        'project-memory': 2000,
        'durable relay': 250,
        'project-production': 100,
        'socket.io+redis': 4000,
      },
      production: { budgetMs: 60_000 },
    },
    group: {
      groups: 4,
      size: 100,
      connections: 16,
      ramp: { ...full, budgetMs: 45_000 },
      start: { 'bare fan-out': 160, 'project-memory': 80, 'project-production': 10 },
      production: true,
    },
    // 100,000 streams over K/500 connections (the Makefile raises the descriptor limit).
    density: { streams: 100_000, connections: 200, idleMs: 5500 },
    storm: { devices: 1000, usersPerChannel: 10, behind: 100, connections: 10, timeoutMs: 90_000, production: true },
    socketioRedis: true,
    budgetMs: 900_000,
  },
};
