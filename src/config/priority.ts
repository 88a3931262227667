/** Priority names as the configuration spells them, most severe first (0 = emergency). */
export const PRIORITIES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'] as const;
