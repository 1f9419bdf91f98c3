const LONG_DATE = new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'UTC' });

/** "November 27, 2026": how every page, mail and statement states a day (UTC, as Kettle counts days). */
export const longDate = (date: Date): string => LONG_DATE.format(date);
