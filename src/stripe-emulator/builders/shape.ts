/** What every builder shares. */

/** Builders list every field Stripe sends but some nested types are wider than we fill: cast once here. */
export function shape<T>(value: object): T {
  return value as T;
}

export const NULL_ADDRESS = { city: null, country: null, line1: null, line2: null, postal_code: null, state: null };

export interface BillingDetails {
  email: string | null;
  name: string | null;
}

export function billingDetails(b: BillingDetails) {
  return { address: { ...NULL_ADDRESS }, email: b.email, name: b.name, phone: null, tax_id: null };
}
