/**
 * pusa-mini's vocabulary of colours, backgrounds, shapes and motions, as in training/data.py: the evaluation draws
 * its held-out prompts from it and names what it sees with it.
 */
export const COLORS = {
  red: [225, 35, 35],
  green: [40, 190, 60],
  blue: [45, 90, 240],
  yellow: [245, 225, 40],
  orange: [250, 140, 20],
  purple: [150, 50, 210],
  white: [245, 245, 245],
  cyan: [40, 225, 235],
} as const satisfies Record<string, readonly [number, number, number]>;
export type ColorName = keyof typeof COLORS;

export const BACKGROUNDS = {
  black: [8, 8, 8],
  'dark blue': [15, 25, 80],
  'dark green': [15, 60, 25],
  gray: [95, 95, 95],
  brown: [85, 50, 25],
  'dark purple': [50, 20, 65],
} as const satisfies Record<string, readonly [number, number, number]>;
export type BackgroundName = keyof typeof BACKGROUNDS;

export const SHAPES = ['circle', 'square', 'triangle', 'star', 'ring', 'diamond'] as const;
export type ShapeName = (typeof SHAPES)[number];

/** The eight straight moves, with their unit direction in image coordinates (+x right, +y down). */
export const MOVES = {
  'moves left': [-1, 0],
  'moves right': [1, 0],
  'moves up': [0, -1],
  'moves down': [0, 1],
  'moves up left': [-1, -1],
  'moves up right': [1, -1],
  'moves down left': [-1, 1],
  'moves down right': [1, 1],
} as const satisfies Record<string, readonly [number, number]>;
export type MoveName = keyof typeof MOVES;
