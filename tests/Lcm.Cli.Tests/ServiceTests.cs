namespace Lcm.Tests.Service;

/// <summary>This assembly's service tests: one collection over one <see cref="AzuriteFixture"/>.</summary>
[CollectionDefinition(ServiceCollection.Name)]
public sealed class ServiceTests : ICollectionFixture<AzuriteFixture>;
