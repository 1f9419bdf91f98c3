import type { Request, Response } from 'express';
import { csrfToken } from '../web/sessions';
import { roleAtLeast } from './accounts/admin-accounts.service';

/** The console's sections, in the order of its navigation. */
const NAV = [
  { section: 'dashboard', label: 'Dashboard', href: '/admin' },
  { section: 'campaigns', label: 'Campaigns', href: '/admin/campaigns' },
  { section: 'gifts', label: 'Gifts', href: '/admin/gifts' },
  { section: 'moderation', label: 'Moderation', href: '/admin/moderation' },
  { section: 'donors', label: 'Donors', href: '/admin/donors' },
  { section: 'recurring', label: 'Recurring', href: '/admin/recurring' },
  { section: 'webhooks', label: 'Webhooks', href: '/admin/webhooks' },
  { section: 'exports', label: 'Exports', href: '/admin/exports' },
  { section: 'accounts', label: 'Admins', href: '/admin/accounts' },
] as const;

export type AdminSection = (typeof NAV)[number]['section'];

export interface AdminPage {
  title: string;
  /** The navigation entry to mark as current; null on pages of no section (an error). */
  section: AdminSection | null;
  /** 200 unless told: a form shown again with its errors answers 400 (or 409, 422…). */
  status?: number;
  [key: string]: unknown;
}

/**
 * Renders a console page in the admin layout, with what every page needs: the admin, what they may
 * do (`canAct` for admins and owners, `isOwner`), the CSRF token for its forms, and the navigation.
 */
export function renderAdmin(req: Request, res: Response, view: string, page: AdminPage): void {
  const admin = req.admin!;
  const { status = 200, ...model } = page;
  res.status(status).render(view, {
    ...model,
    layout: 'admin',
    admin: { email: admin.email, role: admin.role },
    canAct: roleAtLeast(admin.role, 'admin'),
    isOwner: admin.role === 'owner',
    csrfToken: csrfToken(req),
    nav: NAV.map((item) => ({ ...item, current: item.section === page.section })),
  });
}
