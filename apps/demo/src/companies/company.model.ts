/** A customer organisation: the tenant every key and event of the demo is scoped to. */
export interface Company {
  /** Also the tenant id, so it follows the tenant id rules (letters, digits, `_ . -`). */
  id: string;
  name: string;
  plan: 'free' | 'team' | 'enterprise';
}

export interface User {
  id: string;
  companyId: string;
  name: string;
  role: 'owner' | 'operator' | 'viewer';
}

/** What `GET /company` answers: the caller's company and its members. */
export interface CompanyProfile extends Company {
  members: Array<Pick<User, 'id' | 'name' | 'role'>>;
}
